/**
 * Status pages and badges: what a page shows without a key (its owner's chosen assets, nothing
 * of their configuration, URLs reduced to host and path), who may publish what, and badges (valid
 * SVG, cacheable, only for published assets or with a badge token).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testApi, type TestApi } from '../../test/helpers/api.js';
import { badgeSvg, escapeXml } from './badge-svg.js';

let api: TestApi;
beforeAll(async () => {
  api = await testApi('status-pages');
});
afterAll(() => api.close());

async function publicGet(url: string) {
  const res = await api.app.inject({ method: 'GET', url });
  return { status: res.statusCode, body: res.body, headers: res.headers };
}

/**
 * Whether `text` is well-formed XML: tags balanced and properly nested, attribute values quoted,
 * no raw `<` or stray `&` in text or attributes.
 */
function wellFormedXml(text: string): boolean {
  const stack: string[] = [];
  const token = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)|(<)/g;
  let m: RegExpExecArray | null = token.exec(text);
  for (; m !== null; m = token.exec(text)) {
    const [, closing, name, attrs, selfClosing, chars, stray] = m;
    if (stray) return false;
    const checked = chars ?? attrs ?? '';
    if (/&(?!(amp|lt|gt|quot|apos);)/.test(checked)) return false;
    if (chars !== undefined) continue;
    if (closing) {
      if (stack.pop() !== name) return false;
    } else if (!selfClosing) stack.push(name!);
  }
  return stack.length === 0;
}

describe('badge SVG', () => {
  it('escapes its texts and is well-formed', () => {
    expect(escapeXml(`a<b>&"c'`)).toBe('a&lt;b&gt;&amp;&quot;c&apos;');
    const svg = badgeSvg('up<time "x"', 'R&D </text><script>', '#2e7d32');
    expect(wellFormedXml(svg)).toBe(true);
    expect(svg).not.toContain('<script>');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    // The check itself can fail.
    expect(wellFormedXml('<svg><text>a < b</text></svg>')).toBe(false);
    expect(wellFormedXml('<svg><g></svg>')).toBe(false);
  });
});

describe('status pages', () => {
  it('publish the chosen assets of their owner and nothing else', async () => {
    const a = await api.newClient('Status A');
    const b = await api.newClient('Status B');
    const headers = { Authorization: 'Bearer s3cret-header' };
    const named = await api.call('POST', '/assets', { url: 'https://shop.status.test/cart?token=s3cret-query', config: { http: { headers } } }, a.apiKey);
    const tagged = await api.call('POST', '/assets', { url: 'tcp://db.status.test:5432', tags: ['pub'] }, a.apiKey);
    const unlisted = await api.call('POST', '/assets', { url: 'https://private.status.test/' }, a.apiKey);
    const others = await api.call('POST', '/assets', { url: 'https://other.status.test/', tags: ['pub'] }, b.apiKey);
    for (const r of [named, tagged, unlisted, others]) expect(r.status).toBe(201);
    await api.t.redis.hset(api.t.keys.asset(named.body.id), 'state', 'down');

    // Another client's asset cannot be put on a page (it answers as missing).
    const foreign = await api.call('POST', '/status-pages', { slug: 'acme', title: 'Acme', assetIds: [others.body.id] }, a.apiKey);
    expect(foreign.status).toBe(400);
    expect(foreign.body.message).toBe(`body.assetIds.0: no asset ${others.body.id} of yours`);
    expect((await api.call('POST', '/status-pages', { slug: '-bad', title: 'x' }, a.apiKey)).body.code).toBe('WEBMON_ERR_VALIDATION');

    const created = await api.call('POST', '/status-pages', { slug: 'acme', title: 'Acme <services>', description: 'Public sites', assetIds: [named.body.id], tags: ['pub'] }, a.apiKey);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ slug: 'acme', owner: a.id, path: '/status/acme', assetIds: [named.body.id], tags: ['pub'] });
    const taken = await api.call('POST', '/status-pages', { slug: 'acme', title: 'Mine' }, b.apiKey);
    expect(taken.status).toBe(409);
    expect(taken.body.code).toBe('WEBMON_ERR_STATUS_PAGE_EXISTS');
    // ... and the document says so.
    const doc = JSON.parse((await api.app.inject({ method: 'GET', url: '/docs/json' })).body);
    expect(Object.keys(doc.paths['/status-pages'].post.responses)).toContain('409');

    const res = await publicGet('/public/status/acme');
    expect(res.status).toBe(200);
    const page = JSON.parse(res.body);
    expect(Object.keys(page).sort()).toEqual(['assets', 'description', 'maintenance', 'title', 'updatedAt']);
    expect(page).toMatchObject({ title: 'Acme <services>', description: 'Public sites', maintenance: [] });
    const byId = Object.fromEntries(page.assets.map((x: { id: string }) => [x.id, x]));
    expect(Object.keys(byId).sort()).toEqual([named.body.id, tagged.body.id].sort());
    expect(byId[named.body.id]).toMatchObject({ name: 'shop.status.test/cart', state: 'down', uptime90dPercent: null });
    expect(byId[tagged.body.id]).toMatchObject({ name: 'db.status.test:5432', state: 'unknown' });
    expect(Object.keys(byId[named.body.id]).sort()).toEqual(['id', 'name', 'state', 'uptime90dPercent', 'uptimeDays']);
    const days = byId[named.body.id].uptimeDays as Array<{ day: string; uptimePercent: number | null; checks: number }>;
    expect(days).toHaveLength(90);
    expect(days[89]!.day).toBe(new Date().toISOString().slice(0, 10));
    expect(days[0]!.day).toBe(new Date(Date.now() - 89 * 86_400_000).toISOString().slice(0, 10));
    expect(days.every((d) => d.checks === 0 && d.uptimePercent === null)).toBe(true);
    for (const leak of ['s3cret', 'token', '?', 'config', 'headers', a.id, b.id, others.body.id, unlisted.body.id, 'other.status.test', 'private.status.test']) {
      expect(res.body, leak).not.toContain(leak);
    }

    // The owner manages it; another client does not see it; the admin does.
    expect((await api.call('GET', '/status-pages/acme', undefined, b.apiKey)).body.code).toBe('WEBMON_ERR_STATUS_PAGE_NOT_FOUND');
    expect((await api.call('GET', '/status-pages', undefined, b.apiKey)).body.items).toEqual([]);
    expect((await api.call('GET', '/status-pages')).body.items.map((p: { slug: string }) => p.slug)).toContain('acme');
    expect((await api.call('DELETE', '/status-pages/acme', undefined, b.apiKey)).status).toBe(404);
    const patched = await api.call('PATCH', '/status-pages/acme', { tags: [] }, a.apiKey);
    expect(patched.body).toMatchObject({ tags: [], assetIds: [named.body.id] });
    const after = JSON.parse((await publicGet('/public/status/acme')).body);
    expect(after.assets.map((x: { id: string }) => x.id)).toEqual([named.body.id]);

    expect((await api.call('DELETE', '/status-pages/acme', undefined, a.apiKey)).status).toBe(204);
    const gone = await publicGet('/public/status/acme');
    expect(gone.status).toBe(404);
    expect(JSON.parse(gone.body).code).toBe('WEBMON_ERR_STATUS_PAGE_NOT_FOUND');
  });

  it('show open and coming maintenance of their assets', async () => {
    const c = await api.newClient('Status maintenance');
    const asset = await api.call('POST', '/assets', { url: 'https://maint.status.test/' }, c.apiKey);
    const start = new Date(Date.now() + 3600_000).toISOString();
    const end = new Date(Date.now() + 7200_000).toISOString();
    expect((await api.call('POST', '/maintenance', { reason: 'db upgrade', assetIds: [asset.body.id], start, end }, c.apiKey)).status).toBe(201);
    expect((await api.call('POST', '/status-pages', { slug: 'maint-page', title: 'M', assetIds: [asset.body.id] }, c.apiKey)).status).toBe(201);
    const page = JSON.parse((await publicGet('/public/status/maint-page')).body);
    expect(page.maintenance).toEqual([{ title: 'db upgrade', from: start, to: end }]);
  });
});

describe('badges', () => {
  it('are valid, cacheable SVG for published assets and pages, or with the asset badge token', async () => {
    const a = await api.newClient('Badge A');
    const b = await api.newClient('Badge B');
    const shown = await api.call('POST', '/assets', { url: 'https://shown.badge.test/', tags: ['public'] }, a.apiKey);
    const hidden = await api.call('POST', '/assets', { url: 'https://hidden.badge.test/', tags: ['public'] }, b.apiKey);
    expect((await api.call('POST', '/status-pages', { slug: 'badges-a', title: 'A', tags: ['public'] }, a.apiKey)).status).toBe(201);
    await api.t.redis.hset(api.t.keys.asset(shown.body.id), 'state', 'up');

    for (const file of ['state.svg', 'uptime.svg', 'latency.svg']) {
      for (const id of [shown.body.id, 'badges-a']) {
        const res = await publicGet(`/badge/${id}/${file}?window=7d`);
        expect(res.status, `${id}/${file}`).toBe(200);
        expect(res.headers['content-type']).toBe('image/svg+xml; charset=utf-8');
        expect(res.headers['cache-control']).toBe('public, max-age=60');
        expect(wellFormedXml(res.body), res.body).toBe(true);
        expect(res.body).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"[^>]*>/);
      }
    }
    expect((await publicGet(`/badge/${shown.body.id}/state.svg`)).body).toContain('<title>status: up</title>');
    expect((await publicGet(`/badge/${shown.body.id}/uptime.svg`)).body).toContain('<title>uptime 24h: no data</title>');

    // B's asset has the page's tag but is not A's: not public.
    const refused = await publicGet(`/badge/${hidden.body.id}/state.svg`);
    expect(refused.status).toBe(404);
    expect(JSON.parse(refused.body).code).toBe('WEBMON_ERR_BADGE_NOT_FOUND');
    expect((await publicGet('/badge/no-such-thing/state.svg')).status).toBe(404);
    expect((await publicGet(`/badge/${shown.body.id}/other.svg`)).status).toBe(400);

    // A badge token opens one asset; only its owner (or the admin) makes one; a new one replaces it.
    expect((await api.call('POST', `/assets/${hidden.body.id}/badge-token`, undefined, a.apiKey)).status).toBe(404);
    const first = await api.call('POST', `/assets/${hidden.body.id}/badge-token`, undefined, b.apiKey);
    expect(first.status).toBe(201);
    expect(first.body.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await publicGet(`/badge/${hidden.body.id}/state.svg?token=${first.body.token}`)).status).toBe(200);
    expect((await publicGet(`/badge/${hidden.body.id}/state.svg?token=wrong`)).status).toBe(404);
    expect(await api.t.redis.hget(api.t.keys.asset(hidden.body.id), 'badgeDigest')).not.toBe(first.body.token);
    const second = await api.call('POST', `/assets/${hidden.body.id}/badge-token`, undefined, b.apiKey);
    expect((await publicGet(`/badge/${hidden.body.id}/latency.svg?token=${second.body.token}`)).status).toBe(200);
    expect((await publicGet(`/badge/${hidden.body.id}/latency.svg?token=${first.body.token}`)).status).toBe(404);
  });
});
