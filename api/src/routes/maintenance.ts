/** Maintenance windows: create, list, delete. */
import type { Static } from 'typebox';
import { WebmonError, cronProblem, idsQuotaError, nextBoundary, timeZoneProblem, windowOpen, type ClientLimits, type MaintenanceWindow, type Principal } from '@webmon/core';
import { ownerScope, visible, windowNotFound } from '../access.js';
import type { ApiContext, App } from '../context.js';
import { limitsFor } from '../limits.js';
import { empty, response } from '../openapi.js';
import { iso } from '../present.js';
import { Maintenance, MaintenanceInput, MaintenanceList, ref, WindowId } from '../schemas/index.js';

function present(w: MaintenanceWindow, now = Date.now()) {
  return {
    id: w.id,
    owner: w.owner,
    reason: w.reason,
    assetIds: w.assetIds,
    tags: w.tags,
    ...(w.start !== undefined ? { start: iso(w.start)! } : {}),
    ...(w.end !== undefined ? { end: iso(w.end)! } : {}),
    ...(w.recurring ? { recurring: w.recurring } : {}),
    ...(w.cron !== undefined ? { cron: w.cron, durationSec: w.durationSec } : {}),
    ...(w.timeZone !== undefined ? { timeZone: w.timeZone } : {}),
    open: windowOpen(w, now),
    ...nextChange(w, now),
    createdAt: iso(w.createdAt)!,
  };
}

function nextChange(w: MaintenanceWindow, now: number): { nextChangeAt?: string } {
  const next = nextBoundary(w, now);
  return Number.isFinite(next) ? { nextChangeAt: iso(next)! } : {};
}

/** A validation error naming the field, in the shape schema validation answers with. */
function invalid(field: string, message: string): WebmonError {
  return new WebmonError('WEBMON_ERR_VALIDATION', `${field}: ${message}`, { problems: [{ field, message }] });
}

type Input = Static<typeof MaintenanceInput>;
type When = Pick<MaintenanceWindow, 'start' | 'end' | 'recurring' | 'cron' | 'durationSec' | 'timeZone'>;

const isOneOff = (b: Input) => b.start !== undefined || b.end !== undefined;

/** Exactly one of the three forms of a window is given. */
function checkForm(b: Input): void {
  if ([isOneOff(b), b.recurring !== undefined, b.cron !== undefined].filter(Boolean).length !== 1) {
    throw new WebmonError('WEBMON_ERR_VALIDATION', 'body: give either start and end, or recurring, or cron and durationSec');
  }
}

/**
 * When the window is open, from exactly one of: start and end; recurring; cron and durationSec.
 * timeZone goes with recurring or cron only (one-off times carry their own UTC offset).
 */
function whenOf(b: Input, limits: ClientLimits | null, now = Date.now()): When {
  if (b.durationSec !== undefined && b.cron === undefined) throw invalid('body.durationSec', 'goes with cron only (recurring has durationMinutes)');
  if (isOneOff(b)) {
    if (b.timeZone !== undefined) throw invalid('body.timeZone', 'goes with recurring or cron only (start and end carry their own UTC offset)');
    return oneOffSpan(b.start, b.end, limits, now);
  }
  const zone = b.timeZone === undefined ? {} : { timeZone: b.timeZone };
  const badZone = b.timeZone === undefined ? null : timeZoneProblem(b.timeZone);
  if (badZone) throw invalid('body.timeZone', badZone);
  if (b.recurring) return { recurring: b.recurring, ...zone };
  if (b.durationSec === undefined) throw invalid('body.durationSec', 'a cron window needs durationSec');
  const badCron = cronProblem(b.cron!, b.timeZone ?? 'UTC', now);
  if (badCron) throw invalid('body.cron', badCron);
  return { cron: b.cron!.trim(), durationSec: b.durationSec, ...zone };
}

/** A one-off window's [start, end), checked against the clock and the client's longest window. */
function oneOffSpan(startText: string | undefined, endText: string | undefined, limits: ClientLimits | null, now = Date.now()): { start: number; end: number } {
  const start = Date.parse(startText ?? '');
  const end = Date.parse(endText ?? '');
  if (!Number.isFinite(start) || !Number.isFinite(end) || end <= start) {
    throw new WebmonError('WEBMON_ERR_VALIDATION', 'body.end: a one-off window needs start and end, end after start');
  }
  if (end <= now) throw new WebmonError('WEBMON_ERR_VALIDATION', 'body.end: the window has already ended');
  if (limits && end - start > limits.maxOneOffWindowSec * 1000) {
    throw new WebmonError('WEBMON_ERR_VALIDATION', `body.end: a one-off window lasts at most ${limits.maxOneOffWindowSec} s (tenants.limits.maxOneOffWindowSec)`);
  }
  return { start, end };
}

/** Every asset id must be one of the window owner's assets (another client's answers the same as a missing one). */
async function checkAssetIds(ctx: ApiContext, who: Principal, ids: readonly string[]): Promise<void> {
  const owners = ids.length ? await ctx.assets.owners(ids) : [];
  const problems = ids.flatMap((id, i) => (owners[i] === who.id ? [] : [{ field: `body.assetIds.${i}`, message: `no asset ${id} of yours` }]));
  if (problems.length) throw new WebmonError('WEBMON_ERR_VALIDATION', `${problems[0]!.field}: ${problems[0]!.message}`, { problems });
}

export function maintenanceRoutes(ctx: ApiContext) {
  const { maintenance } = ctx;
  return async function routes(app: App) {
    app.post(
      '/maintenance',
      {
        config: { snapshot: true },
        schema: {
          tags: ['maintenance'],
          operationId: 'createMaintenanceWindow',
          summary: 'Create a maintenance window: checks run, no notifications, assets show as maintenance',
          body: ref(MaintenanceInput),
          response: { 201: response(Maintenance, 'The window was created') },
        },
      },
      async (req, reply) => {
        const b = req.body;
        const assetIds = [...new Set(b.assetIds)];
        const tags = [...new Set(b.tags)];
        if (assetIds.length === 0 && tags.length === 0) throw new WebmonError('WEBMON_ERR_VALIDATION', 'body: give assetIds or tags (or both)');
        checkForm(b);
        const limits = await limitsFor(ctx, req.principal);
        if (limits && assetIds.length + tags.length > limits.maxIdsPerWindow) throw idsQuotaError(limits.maxIdsPerWindow, assetIds.length + tags.length);
        const w: Omit<MaintenanceWindow, 'id' | 'createdAt'> = { owner: req.principal.id, reason: b.reason, assetIds, tags, ...whenOf(b, limits) };
        await checkAssetIds(ctx, req.principal, assetIds);
        return reply.code(201).send(present(await maintenance.create(w, { maxWindows: limits?.maxMaintenanceWindows })));
      },
    );

    app.get(
      '/maintenance',
      {
        schema: {
          tags: ['maintenance'],
          operationId: 'listMaintenanceWindows',
          summary: 'Maintenance windows (yours; the admin sees all)',
          response: { 200: response(MaintenanceList, 'The windows') },
        },
      },
      async (req) => ({ items: (await maintenance.list(ownerScope(req.principal))).map((w) => present(w)) }),
    );

    app.delete(
      '/maintenance/:id',
      {
        config: { snapshot: true },
        schema: {
          tags: ['maintenance'],
          operationId: 'deleteMaintenanceWindow',
          summary: 'Delete a maintenance window',
          params: WindowId,
          response: { 204: empty('The window is deleted') },
        },
      },
      async (req, reply) => {
        const w = visible(await maintenance.get(req.params.id), req.principal, () => windowNotFound(req.params.id));
        await maintenance.delete(w.id);
        return reply.code(204).send(null);
      },
    );
  };
}
