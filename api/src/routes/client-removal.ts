/** Deleting a client with everything of it. */
import type { ApiContext } from '../context.js';
import { rateLimitKeys } from '../limits.js';

/**
 * Deletes every asset of an owner through the asset store (each with its history). A second
 * pass catches assets created by requests that were already past authentication.
 */
async function deleteAssetsOf(ctx: ApiContext, owner: string): Promise<void> {
  for (let pass = 0; pass < 3; pass++) {
    let deleted = 0;
    let cursor: number | undefined;
    for (;;) {
      const page = await ctx.assets.list({ owner, cursor, limit: 200 });
      const done = await Promise.all(page.ids.map((id) => ctx.assets.delete(id)));
      deleted += done.filter(Boolean).length;
      if (page.next === null) break;
      cursor = page.next;
    }
    if (deleted === 0) return;
  }
}

/**
 * Removes a client and everything of it: keys first (refused from the next request on), then
 * assets with their history, webhook with pending deliveries and reminders, maintenance
 * windows, status pages (their slugs become free), rate counters, and the client record last, so that an interrupted delete can be
 * repeated.
 */
export async function deleteClient(ctx: ApiContext, id: string): Promise<void> {
  await ctx.clients.revokeAllKeys(id);
  await deleteAssetsOf(ctx, id);
  await ctx.webhooks.delete(id);
  await ctx.channels.deleteAll(id);
  for (const w of await ctx.maintenance.list(id)) await ctx.maintenance.delete(w.id);
  for (const page of await ctx.statusPages.listOwned(id)) await ctx.statusPages.delete(page);
  await ctx.redis.del(...rateLimitKeys(ctx.keys, id));
  await ctx.clients.remove(id);
}
