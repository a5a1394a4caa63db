/**
 * Tenant scoping, the one place that decides what an API key may see and act on. The admin key
 * reaches everything; a client key reaches what its client owns. Something another client owns
 * answers exactly like something missing (404), so that ids do not leak; only acting for another
 * client by its id is refused as such (403).
 */
import { ADMIN_CLIENT_ID, ALL_OWNERS, WebmonError, type Principal } from '@webmon/core';
import type { ApiContext } from './context.js';

/** Whether the principal may see and change what `owner` owns. */
export function mayAccess(who: Principal, owner: string): boolean {
  return who.admin || owner === who.id;
}

/** The owner filter of a listing: every owner for the admin, else the client itself. */
export function ownerScope(who: Principal): string {
  return who.admin ? ALL_OWNERS : who.id;
}

/** The record if it exists and the principal may access it; `notFound()` is thrown otherwise. */
export function visible<T extends { owner: string }>(record: T | null | undefined, who: Principal, notFound: () => WebmonError): T {
  if (!record || !mayAccess(who, record.owner)) throw notFound();
  return record;
}

export const assetNotFound = (id: string) => new WebmonError('WEBMON_ERR_ASSET_NOT_FOUND', `asset ${id} not found`);
export const jobNotFound = (id: string) => new WebmonError('WEBMON_ERR_JOB_NOT_FOUND', `job ${id} not found`);
export const windowNotFound = (id: string) => new WebmonError('WEBMON_ERR_MAINTENANCE_NOT_FOUND', `maintenance window ${id} not found`);
export const keyNotFound = (id: string) => new WebmonError('WEBMON_ERR_KEY_NOT_FOUND', `API key ${id} not found`);
export const clientNotFound = (id: string) => new WebmonError('WEBMON_ERR_CLIENT_NOT_FOUND', `client ${id} not found`);

export function requireAdmin(who: Principal): void {
  if (!who.admin) throw new WebmonError('WEBMON_ERR_FORBIDDEN', 'this needs the admin key');
}

/** A client id the principal may act for: itself, or any (existing) client for the admin; another client's is 403. */
export async function actingFor(ctx: Pick<ApiContext, 'clients'>, who: Principal, id: string): Promise<string> {
  if (id === who.id) return id;
  if (!who.admin) throw new WebmonError('WEBMON_ERR_FORBIDDEN', `this key may act only for client ${who.id}`);
  if (id !== ADMIN_CLIENT_ID && !(await ctx.clients.get(id))) throw clientNotFound(id);
  return id;
}

/** A real client (not the admin, whose key comes from configuration) whose API keys the principal may manage. */
export async function keysOwner(ctx: Pick<ApiContext, 'clients'>, who: Principal, id: string): Promise<string> {
  if (id === ADMIN_CLIENT_ID) throw new WebmonError('WEBMON_ERR_FORBIDDEN', 'the admin key is set in configuration (api.adminKey), not through the API');
  const owner = await actingFor(ctx, who, id);
  if (!(await ctx.clients.get(owner))) throw clientNotFound(id);
  return owner;
}
