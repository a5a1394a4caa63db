/** Status pages (owned by the caller; the admin sees all) and badge tokens. */
import { WebmonError, randomToken, type Principal, type StatusPage } from '@webmon/core';
import { assetNotFound, mayAccess, ownerScope, visible } from '../access.js';
import type { ApiContext, App } from '../context.js';
import { empty, error, response } from '../openapi.js';
import { iso } from '../present.js';
import type { Publishing } from '../publishing.js';
import { AssetId, BadgeToken, StatusPageInput, StatusPageList, StatusPageOut, StatusPagePatch, StatusSlug, ref } from '../schemas/index.js';

/** Most status pages one owner may have. */
export const MAX_STATUS_PAGES = 50;

export const statusPageNotFound = (slug: string) => new WebmonError('WEBMON_ERR_STATUS_PAGE_NOT_FOUND', `status page ${slug} not found`);

function present(p: StatusPage) {
  return {
    slug: p.slug,
    owner: p.owner,
    title: p.title,
    description: p.description,
    assetIds: p.assetIds,
    tags: p.tags,
    path: `/status/${p.slug}`,
    createdAt: iso(p.createdAt)!,
    updatedAt: iso(p.updatedAt)!,
  };
}

/** Every asset id must be one the caller may access (another client's answers as missing). */
async function checkAssetIds(ctx: ApiContext, who: Principal, ids: readonly string[]): Promise<void> {
  const owners = ids.length ? await ctx.assets.owners(ids) : [];
  const problems = ids.flatMap((id, i) => {
    const owner = owners[i];
    return owner != null && mayAccess(who, owner) ? [] : [{ field: `body.assetIds.${i}`, message: `no asset ${id} of yours` }];
  });
  if (problems.length) throw new WebmonError('WEBMON_ERR_VALIDATION', `${problems[0]!.field}: ${problems[0]!.message}`, { problems });
}

export function statusPageRoutes(ctx: ApiContext, publishing: Publishing) {
  const { statusPages } = ctx;
  const owned = async (slug: string, who: Principal) => visible(await statusPages.get(slug), who, () => statusPageNotFound(slug));

  return async function routes(app: App) {
    app.post(
      '/status-pages',
      {
        config: { snapshot: true },
        schema: {
          tags: ['status pages'],
          operationId: 'createStatusPage',
          summary: 'Publish a status page at /status/<slug>: chosen assets (by id and tag), no key needed to read it',
          body: ref(StatusPageInput),
          response: { 201: response(StatusPageOut, 'The page is published'), 409: error(409, 'Another status page has this slug (WEBMON_ERR_STATUS_PAGE_EXISTS)') },
        },
      },
      async (req, reply) => {
        const b = req.body;
        await checkAssetIds(ctx, req.principal, b.assetIds ?? []);
        const page = await statusPages.create(
          { slug: b.slug, owner: req.principal.id, title: b.title, description: b.description ?? '', assetIds: b.assetIds ?? [], tags: b.tags ?? [] },
          MAX_STATUS_PAGES,
        );
        publishing.forget(page.slug);
        return reply.code(201).send(present(page));
      },
    );

    app.get(
      '/status-pages',
      {
        schema: {
          tags: ['status pages'],
          operationId: 'listStatusPages',
          summary: 'Status pages (yours; the admin sees all)',
          response: { 200: response(StatusPageList, 'The pages, by slug') },
        },
      },
      async (req) => {
        const scope = ownerScope(req.principal);
        const pages = req.principal.admin ? await statusPages.listAll() : await statusPages.listOwned(scope);
        return { items: pages.map(present) };
      },
    );

    app.get(
      '/status-pages/:slug',
      {
        schema: { tags: ['status pages'], operationId: 'getStatusPage', summary: 'One status page', params: StatusSlug, response: { 200: response(StatusPageOut, 'The page') } },
      },
      async (req) => present(await owned(req.params.slug, req.principal)),
    );

    app.patch(
      '/status-pages/:slug',
      {
        config: { snapshot: true },
        schema: {
          tags: ['status pages'],
          operationId: 'updateStatusPage',
          summary: 'Change a status page: title, description, assets, tags',
          params: StatusSlug,
          body: ref(StatusPagePatch),
          response: { 200: response(StatusPageOut, 'The changed page') },
        },
      },
      async (req) => {
        const page = await owned(req.params.slug, req.principal);
        if (req.body.assetIds) await checkAssetIds(ctx, req.principal, req.body.assetIds);
        const next = await statusPages.update(page, req.body);
        if (!next) throw statusPageNotFound(page.slug);
        publishing.forget(page.slug);
        return present(next);
      },
    );

    app.delete(
      '/status-pages/:slug',
      {
        config: { snapshot: true },
        schema: { tags: ['status pages'], operationId: 'deleteStatusPage', summary: 'Unpublish a status page', params: StatusSlug, response: { 204: empty('The page is gone') } },
      },
      async (req, reply) => {
        const page = await owned(req.params.slug, req.principal);
        await statusPages.delete(page);
        publishing.forget(page.slug);
        return reply.code(204).send(null);
      },
    );

    app.post(
      '/assets/:id/badge-token',
      {
        config: { snapshot: true },
        schema: {
          tags: ['status pages'],
          operationId: 'createBadgeToken',
          summary: "A new badge token for an asset: its badges (/badge/<id>/…?token=) without a status page; replaces the earlier token",
          params: AssetId,
          response: { 201: response(BadgeToken, 'The token, shown once') },
        },
      },
      async (req, reply) => {
        const { id } = req.params;
        visible(await ctx.assets.get(id), req.principal, () => assetNotFound(id));
        const token = randomToken();
        if (!(await statusPages.setBadgeToken(id, token))) throw assetNotFound(id);
        return reply.code(201).send({ token });
      },
    );
  };
}
