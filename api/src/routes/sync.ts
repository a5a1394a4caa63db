/**
 * `PUT /clients/:id/assets`: a client's complete list of assets. New URLs are added, unlisted
 * assets removed (only when the whole list was understood), the rest kept or updated.
 */
import { WebmonError, errorBody, type AssetRecord, type ClientLimits, type NewAsset } from '@webmon/core';
import { actingFor } from '../access.js';
import type { ApiContext, App } from '../context.js';
import { limitsFor } from '../limits.js';
import { response } from '../openapi.js';
import { iso } from '../present.js';
import { ClientId, ref, SyncInput, SyncResult, type AssetPatch } from '../schemas/index.js';

type SyncItem = { index: number; url: string; create?: NewAsset; existing?: AssetRecord; patch?: AssetPatch; differs?: boolean };
type SyncOut = Record<string, unknown> & { index: number };

/** Every asset of an owner, by URL. */
async function assetsByUrl(ctx: ApiContext, owner: string): Promise<Map<string, AssetRecord>> {
  const current = new Map<string, AssetRecord>();
  let cursor: number | undefined;
  for (;;) {
    const page = await ctx.assets.list({ owner, cursor, limit: 1000 });
    for (const a of await ctx.assets.getMany(page.ids)) if (a) current.set(a.url, a);
    if (page.next === null) return current;
    cursor = page.next;
  }
}

/** Understands every listed item without writing anything: what to create, what to update, and the bad items. */
function planSync(ctx: ApiContext, owner: string, items: readonly unknown[], current: Map<string, AssetRecord>, caps: ClientLimits | null) {
  const plan: SyncItem[] = [];
  const errors: SyncOut[] = [];
  const listed = new Set<string>();
  for (const [index, item] of items.entries()) {
    try {
      const input = ctx.inputs.parseItem(item, `assets.${index}`);
      const prepared = ctx.inputs.forCreate(input, owner, caps);
      const url = prepared.url.url;
      if (listed.has(url)) throw new WebmonError('WEBMON_ERR_VALIDATION', `assets.${index}.url: ${url} is listed twice`);
      listed.add(url);
      const existing = current.get(url);
      if (!existing) {
        plan.push({ index, url, create: prepared });
        continue;
      }
      // Listed settings are the desired ones: apply them when they differ.
      const { url: _url, ...patch } = input;
      const change = Object.keys(patch).length ? ctx.inputs.forUpdate(existing, patch, caps) : {};
      const differs = Object.entries(change).some(([k, v]) => k !== 'state' && JSON.stringify(v) !== JSON.stringify((existing as unknown as Record<string, unknown>)[k]));
      plan.push({ index, url, existing, patch, differs });
    } catch (err) {
      errors.push(itemError(err, index));
    }
  }
  return { plan, errors, listed };
}

function itemError(err: unknown, index: number): SyncOut {
  if (!(err instanceof WebmonError)) throw err;
  const message = err.message.startsWith(`assets.${index}`) ? err.message : `assets.${index}.${err.message}`;
  return { index, error: errorBody(err.code, message, err.details) };
}

function quotaExceeded(message: string, limit: number, value: number): WebmonError {
  return new WebmonError('WEBMON_ERR_QUOTA_EXCEEDED', message, { limit, value });
}

/** Removes the owner's assets the list does not name; returns how many. */
async function removeUnlisted(ctx: ApiContext, current: Map<string, AssetRecord>, listed: ReadonlySet<string>): Promise<number> {
  let removed = 0;
  for (const [url, a] of current) {
    if (!listed.has(url) && (await ctx.assets.delete(a.id))) removed++;
  }
  return removed;
}

/** Creates and updates what the plan says; an item that fails is reported, the others go on. */
async function applyPlan(ctx: ApiContext, plan: readonly SyncItem[], limits: ClientLimits | null): Promise<SyncOut[]> {
  const out: SyncOut[] = [];
  for (const p of plan) {
    try {
      if (p.create) {
        const { id } = await ctx.assets.create(p.create, undefined, { maxAssets: limits?.maxAssets });
        out.push({ index: p.index, url: p.url, id, change: 'added' });
      } else if (p.existing) {
        if (p.differs) await ctx.assets.update(p.existing.id, (cur) => ctx.inputs.forUpdate(cur, p.patch ?? {}, limits));
        out.push({ index: p.index, url: p.url, id: p.existing.id, change: p.differs ? 'updated' : 'kept' });
      }
    } catch (err) {
      out.push(itemError(err, p.index));
    }
  }
  return out;
}

/** Adds the current state of every listed asset to its item. */
async function addStates(ctx: ApiContext, out: readonly SyncOut[]): Promise<void> {
  const ids = out.map((o) => (typeof o.id === 'string' ? o.id : null));
  const records = await ctx.assets.getMany(ids.filter((id): id is string => id !== null));
  const byId = new Map(records.filter((r): r is AssetRecord => r !== null).map((r) => [r.id, r]));
  for (const o of out) {
    const rec = typeof o.id === 'string' ? byId.get(o.id) : undefined;
    if (rec) Object.assign(o, { state: rec.state, lastCheckAt: iso(rec.lastCheckAt) });
  }
}

async function sync(ctx: ApiContext, owner: string, items: readonly unknown[], limits: ClientLimits | null) {
  if (limits && items.length > limits.maxSyncItems) {
    throw quotaExceeded(`assets: at most ${limits.maxSyncItems} items per sync for this client (got ${items.length})`, limits.maxSyncItems, items.length);
  }
  const current = await assetsByUrl(ctx, owner);
  const { plan, errors, listed } = planSync(ctx, owner, items, current, limits);
  // Removal only when the whole list was understood: a typo must not delete an asset's history.
  const pruned = errors.length === 0;
  if (pruned && limits && listed.size > limits.maxAssets) {
    throw quotaExceeded(`assets: the list has ${listed.size} assets, more than the ${limits.maxAssets} this client may have`, limits.maxAssets, listed.size);
  }
  // Removed first, so that a list replacing assets fits the quota.
  const removed = pruned ? await removeUnlisted(ctx, current, listed) : 0;
  const out = [...errors, ...(await applyPlan(ctx, plan, limits))].sort((a, b) => a.index - b.index);
  await addStates(ctx, out);
  const count = (c: string) => out.filter((o) => o.change === c).length;
  const failed = out.filter((o) => o.error).length;
  return { added: count('added'), updated: count('updated'), kept: count('kept'), removed, failed, pruned, items: out as never };
}

export function syncRoutes(ctx: ApiContext) {
  return async function routes(app: App) {
    app.put(
      '/clients/:id/assets',
      {
        config: { snapshot: true },
        schema: {
          tags: ['clients'],
          operationId: 'syncClientAssets',
          summary: "Declarative sync: the client's complete list of assets. New URLs are added, unlisted assets removed, the rest kept (with history) or updated",
          params: ClientId,
          body: ref(SyncInput),
          response: { 200: response(SyncResult, 'What the sync did, item by item') },
        },
      },
      async (req) => {
        const owner = await actingFor(ctx, req.principal, req.params.id);
        return sync(ctx, owner, req.body.assets, await limitsFor(ctx, req.principal));
      },
    );
  };
}
