/** `POST /assets/batch`: many assets in one request, each item validated and created on its own. */
import { WebmonError, errorBody, type ClientLimits, type ErrorBody, type Principal } from '@webmon/core';
import type { ApiContext, App } from '../context.js';
import { limitsFor } from '../limits.js';
import { response } from '../openapi.js';
import { BatchInput, BatchResult, ref } from '../schemas/index.js';

type BatchItem = { index: number; id?: string; created?: boolean; error?: ErrorBody };

/** Validates every item, then creates the valid ones concurrently; the items come back by index. */
async function createEach(ctx: ApiContext, items: readonly unknown[], who: Principal, limits: ClientLimits | null): Promise<BatchItem[]> {
  const out: BatchItem[] = [];
  const pending: Array<Promise<void>> = [];
  items.forEach((item, index) => {
    let prepared: ReturnType<ApiContext['inputs']['forCreate']>;
    try {
      prepared = ctx.inputs.forCreate(ctx.inputs.parseItem(typeof item === 'string' ? {} : item, `assets.${index}`), who.id, limits);
    } catch (err) {
      if (!(err instanceof WebmonError)) throw err;
      const message = err.code === 'WEBMON_ERR_VALIDATION' ? err.message : `assets.${index}.${err.message}`;
      out[index] = { index, error: errorBody(err.code, message, err.details) };
      return;
    }
    pending.push(
      ctx.assets.create(prepared, undefined, { maxAssets: limits?.maxAssets }).then(
        ({ id, created }) => {
          out[index] = { index, id, created };
        },
        (err: unknown) => {
          if (!(err instanceof WebmonError)) throw err;
          out[index] = { index, error: errorBody(err.code, `assets.${index}: ${err.message}`, err.details) };
        },
      ),
    );
  });
  await Promise.all(pending);
  return out;
}

function summary(items: BatchItem[]) {
  let created = 0;
  let existing = 0;
  let failed = 0;
  for (const it of items) {
    if (it.error) failed++;
    else if (it.created) created++;
    else existing++;
  }
  return { created, existing, failed, items };
}

export function assetBatchRoutes(ctx: ApiContext) {
  const max = ctx.config.api.maxBatch;
  return async function routes(app: App) {
    app.post(
      '/assets/batch',
      {
        config: { snapshot: true },
        schema: {
          tags: ['assets'],
          operationId: 'createAssets',
          summary: 'Create many assets; each malformed item is reported by index, the valid ones are created',
          body: ref(BatchInput),
          response: { 200: response(BatchResult, 'What became of each item') },
        },
      },
      async (req) => {
        const items = req.body.assets;
        if (items.length > max) throw new WebmonError('WEBMON_ERR_BATCH_TOO_LARGE', `assets: at most ${max} items per request (got ${items.length})`);
        const limits = await limitsFor(ctx, req.principal);
        return summary(await createEach(ctx, items, req.principal, limits));
      },
    );
  };
}
