/**
 * The domain plugin against a local server that answers like IANA's bootstrap file (mapping the
 * test TLDs to itself) and like an RDAP registry, with a clock the tests move instead of waiting.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { PluginRegistry, clientEgress, createSharedCache, memoryStorage, operatorEgress, runPlugin, type CheckResult, type EgressGuard, type PluginStorage } from '@webmon/plugin-sdk';
import { freePort } from '@webmon/core';
import { ANSWER_KEY, ANSWER_MAX_BYTES, createDomainPlugin, domainPlugin, parseServices, registrableDomain, registrationOf, serversFor } from './index.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;
/** The tests' "now": registry dates are relative to it. */
const BASE = Date.parse('2026-03-01T12:00:00Z');

const registry = new PluginRegistry([domainPlugin]);

interface Reply {
  status: number;
  body: string;
}

function registration(name: string, expiresIn: number | null): Reply {
  const events: unknown[] = [{ eventAction: 'registration', eventDate: '2010-05-01T00:00:00Z' }];
  if (expiresIn !== null) events.push({ eventAction: 'expiration', eventDate: new Date(BASE + expiresIn).toISOString() });
  const registrar = {
    objectClassName: 'entity',
    handle: '9999',
    roles: ['registrar'],
    vcardArray: ['vcard', [['version', {}, 'text', '4.0'], ['fn', {}, 'text', 'Example Registrar, Inc.']]],
  };
  const body = { objectClassName: 'domain', ldhName: name.toUpperCase(), status: ['client transfer prohibited'], events, entities: [registrar] };
  return { status: 200, body: JSON.stringify(body) };
}

const ANSWERS: Record<string, () => Reply> = {
  'far.rdaptest': () => registration('far.rdaptest', 400 * DAY + HOUR),
  'warn.rdaptest': () => registration('warn.rdaptest', 10 * DAY + HOUR),
  'soon.rdaptest': () => registration('soon.rdaptest', 3 * DAY + HOUR),
  'gone.rdaptest': () => registration('gone.rdaptest', -(2 * DAY + HOUR)),
  'nodate.rdaptest': () => registration('nodate.rdaptest', null),
  'example.co.uk': () => registration('example.co.uk', 100 * DAY + HOUR),
  'broken.rdaptest': () => ({ status: 200, body: '{"objectClassName": "domain", "events": [' }),
  'baddate.rdaptest': () => ({ status: 200, body: JSON.stringify({ events: [{ eventAction: 'expiration', eventDate: 'soon' }] }) }),
  'huge.rdaptest': () => ({ status: 200, body: JSON.stringify({ objectClassName: 'domain', remarks: [{ description: ['x'.repeat(ANSWER_MAX_BYTES + 1000)] }] }) }),
  'busy.rdaptest': () => ({ status: 503, body: '{}' }),
  'limited.rdaptest': () => ({ status: 429, body: '{}' }),
};

let rdap: Server;
let bootstrapOnly: Server; // on 127.0.0.2: a range a client can be allowed
let base = '';
let closedPort = 0;
let bootstrapFails = false;
const seen: Array<{ path: string; accept: string | undefined }> = [];

function bootstrapFile(): string {
  return JSON.stringify({
    version: '1.0',
    publication: '2026-03-01T00:00:00Z',
    services: [
      [['rdaptest', 'uk'], [`${base}/`]],
      [['closedtld'], [`http://127.0.0.1:${closedPort}/rdap`]],
      ['not a service'],
    ],
  });
}

function handle(req: IncomingMessage, res: import('node:http').ServerResponse): void {
  const path = req.url ?? '/';
  seen.push({ path, accept: req.headers.accept });
  if (path === '/dns.json') {
    if (bootstrapFails) res.writeHead(500).end();
    else res.writeHead(200, { 'content-type': 'application/json' }).end(bootstrapFile());
    return;
  }
  const name = decodeURIComponent(/^\/domain\/(.+)$/.exec(path)?.[1] ?? '');
  const reply = ANSWERS[name]?.() ?? { status: 404, body: JSON.stringify({ errorCode: 404, title: 'Not Found' }) };
  res.writeHead(reply.status, { 'content-type': 'application/rdap+json' }).end(reply.body);
}

async function listen(server: Server, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  return (server.address() as { port: number }).port;
}

beforeAll(async () => {
  rdap = createServer(handle);
  base = `http://127.0.0.1:${await listen(rdap, '127.0.0.1')}`;
  bootstrapOnly = createServer(handle);
  await listen(bootstrapOnly, '127.0.0.2');
  closedPort = await freePort();
});

afterAll(async () => {
  await Promise.all([rdap, bootstrapOnly].map((s) => new Promise<void>((r) => s.close(() => r()))));
});

/** A plugin with its own bootstrap cache and a clock the test sets. */
function clocked(start = BASE) {
  const clock = { now: start };
  return { clock, plugin: createDomainPlugin({ now: () => clock.now }) };
}

interface CheckOptions {
  plugin?: ReturnType<typeof createDomainPlugin>;
  storage?: PluginStorage;
  egress?: EgressGuard;
  bootstrapUrl?: string;
}

async function check(url: string, options: Record<string, unknown> = {}, o: CheckOptions = {}): Promise<CheckResult> {
  const v = registry.validate('domain', { bootstrapUrl: o.bootstrapUrl ?? `${base}/dns.json`, ...options });
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  const egress = o.egress ?? operatorEgress();
  const ctx = { log: pino({ level: 'silent' }), storage: o.storage ?? memoryStorage(), shared: createSharedCache(), egress };
  const plugin = o.plugin ?? clocked().plugin;
  return runPlugin(plugin, { url: new URL(url), assetId: 'a', owner: egress.trusted ? 'admin' : 'c1' }, v.value, ctx, (v.value.timeoutMs as number) + 1000);
}

const requests = (path: string) => seen.filter((s) => s.path === path).length;

describe('domain plugin: verdicts', () => {
  it('reports days left, expiry date and registrar of a far registration', async () => {
    const r = await check('domain://far.rdaptest');
    expect(r).toMatchObject({ plugin: 'domain', status: 'ok', reason: null });
    expect(r.message).toBe('far.rdaptest expires on 2027-04-05 (in 400 days, registrar Example Registrar, Inc.)');
    expect(r.metrics).toMatchObject({ daysLeft: 400, cached: 0 });
    expect(r.metrics.lookupMs).toBeGreaterThan(0);
    expect(r.details).toEqual({
      domain: 'far.rdaptest',
      server: `${base}/`,
      checkedAt: new Date(BASE).toISOString(),
      expiresAt: new Date(BASE + 400 * DAY + HOUR).toISOString(),
      registrar: 'Example Registrar, Inc.',
      status: ['client transfer prohibited'],
    });
    expect(seen.filter((s) => s.path === '/domain/far.rdaptest').at(-1)?.accept).toMatch(/^application\/rdap\+json/);
  });

  it.each([
    ['warn.rdaptest', 'warn', 10],
    ['soon.rdaptest', 'error', 3],
  ])('%s is %s domain_expiring with %i days left', async (name, status, days) => {
    const r = await check(`domain://${name}`);
    expect(r).toMatchObject({ status, reason: 'domain_expiring' });
    expect(r.metrics.daysLeft).toBe(days);
    expect(r.message).toContain(`(in ${days} days`);
  });

  it('follows the warnDays and errorDays options', async () => {
    expect(await check('domain://warn.rdaptest', { warnDays: 5, errorDays: 2 })).toMatchObject({ status: 'ok', reason: null });
    expect(await check('domain://far.rdaptest', { warnDays: 500 })).toMatchObject({ status: 'warn', reason: 'domain_expiring' });
    expect(await check('domain://warn.rdaptest', { errorDays: 11 })).toMatchObject({ status: 'error', reason: 'domain_expiring' });
  });

  it('reports an expired registration as domain_expired', async () => {
    const r = await check('domain://gone.rdaptest');
    expect(r).toMatchObject({ status: 'error', reason: 'domain_expired', message: 'gone.rdaptest expired on 2026-02-27 (2 days ago, registrar Example Registrar, Inc.)' });
    expect(r.metrics.daysLeft).toBe(-3);
  });

  it('reports a domain the registry does not know (404) as not_found', async () => {
    const r = await check('domain://missing.rdaptest');
    expect(r).toMatchObject({ status: 'error', reason: 'not_found' });
    expect(r.message).toContain('missing.rdaptest');
  });

  it('warns unsupported when the registry publishes no expiration date', async () => {
    const r = await check('domain://nodate.rdaptest');
    expect(r).toMatchObject({ status: 'warn', reason: 'unsupported', message: 'nodate.rdaptest: the registry publishes no expiration date' });
    expect(r.details).toMatchObject({ registrar: 'Example Registrar, Inc.' });
  });

  it.each([
    ['broken.rdaptest', 'protocol', /not JSON/],
    ['baddate.rdaptest', 'protocol', /eventDate "soon" is not a date/],
    ['huge.rdaptest', 'protocol', new RegExp(`larger than ${ANSWER_MAX_BYTES} bytes`)],
    ['busy.rdaptest', 'http_status', /HTTP 503/],
    ['limited.rdaptest', 'rate_limited', /HTTP 429/],
  ])('%s: %s', async (name, reason, message) => {
    const r = await check(`domain://${name}`);
    expect(r).toMatchObject({ status: 'error', reason });
    expect(r.message).toMatch(message);
  });

  it('warns unsupported for a TLD without RDAP service, asking no registry', async () => {
    const before = seen.length;
    const r = await check('domain://example.zz');
    expect(r).toMatchObject({ status: 'warn', reason: 'unsupported' });
    expect(r.message).toMatch(/no RDAP service for \.zz/);
    expect(seen.slice(before).map((s) => s.path)).toEqual(['/dns.json']);
  });

  it('warns unsupported for a host without a registrable domain', async () => {
    for (const url of ['http://127.0.0.1:8080/', 'https://co.uk/', 'http://[::1]/']) {
      expect(await check(url)).toMatchObject({ status: 'warn', reason: 'unsupported', message: expect.stringContaining('no registrable domain') });
    }
  });

  it('classifies a registry that cannot be reached (refused)', async () => {
    const r = await check('domain://example.closedtld');
    expect(r).toMatchObject({ status: 'error', reason: 'refused' });
    expect(r.details).toEqual({ domain: 'example.closedtld', server: `http://127.0.0.1:${closedPort}/rdap` });
  });

  it('asks the registry for the registrable domain of a web asset', async () => {
    const r = await check('https://www.shop.example.co.uk/basket');
    expect(r).toMatchObject({ status: 'ok', metrics: { daysLeft: 100 }, details: { domain: 'example.co.uk' } });
    expect(seen.at(-1)?.path).toBe('/domain/example.co.uk');
  });
});

describe('domain plugin: egress', () => {
  it("refuses a client's bootstrap download from loopback", async () => {
    const r = await check('domain://far.rdaptest', {}, { egress: clientEgress() });
    expect(r).toMatchObject({ status: 'error', reason: 'denied' });
    expect(r.message).toMatch(/RDAP bootstrap/);
  });

  it('refuses a client a loopback RDAP server named by an allowed bootstrap', async () => {
    const before = seen.length;
    const bootstrapUrl = `http://127.0.0.2:${(bootstrapOnly.address() as { port: number }).port}/dns.json`;
    const r = await check('domain://far.rdaptest', {}, { egress: clientEgress(['127.0.0.2/32']), bootstrapUrl });
    expect(r).toMatchObject({ status: 'error', reason: 'denied', details: { server: `${base}/` } });
    expect(seen.slice(before).map((s) => s.path)).toEqual(['/dns.json']);
  });
});

describe('domain plugin: caching', () => {
  it('asks the registry at most once per refreshHours, recomputing days left from the stored date', async () => {
    const { clock, plugin } = clocked();
    const storage = memoryStorage();
    const path = '/domain/warn.rdaptest';
    const before = requests(path);
    const first = await check('domain://warn.rdaptest', {}, { plugin, storage });
    expect(first.metrics).toMatchObject({ daysLeft: 10, cached: 0 });
    expect(requests(path)).toBe(before + 1);

    clock.now += 11 * HOUR;
    const second = await check('domain://warn.rdaptest', {}, { plugin, storage });
    expect(second.metrics).toEqual({ daysLeft: 9, cached: 1 });
    expect(second.details).toMatchObject({ checkedAt: new Date(BASE).toISOString() });
    expect(requests(path)).toBe(before + 1);

    clock.now += 2 * HOUR; // 13 h after the lookup: past the default 12 h
    const third = await check('domain://warn.rdaptest', {}, { plugin, storage });
    expect(third.metrics).toMatchObject({ daysLeft: 9, cached: 0 });
    expect(third.details).toMatchObject({ checkedAt: new Date(BASE + 13 * HOUR).toISOString() });
    expect(requests(path)).toBe(before + 2);
  });

  it('follows refreshHours, keeps a not_found answer too, and asks again for another domain or after reset', async () => {
    const { clock, plugin } = clocked();
    const storage = memoryStorage();
    const path = '/domain/missing.rdaptest';
    const before = requests(path);
    await check('domain://missing.rdaptest', { refreshHours: 1 }, { plugin, storage });
    clock.now += 59 * 60_000;
    expect(await check('domain://missing.rdaptest', { refreshHours: 1 }, { plugin, storage })).toMatchObject({ reason: 'not_found', metrics: { cached: 1 } });
    expect(requests(path)).toBe(before + 1);
    clock.now += 60_000;
    await check('domain://missing.rdaptest', { refreshHours: 1 }, { plugin, storage });
    expect(requests(path)).toBe(before + 2);

    expect(await check('domain://far.rdaptest', {}, { plugin, storage })).toMatchObject({ metrics: { cached: 0 } });
    expect(JSON.parse((await storage.get(ANSWER_KEY))!)).toMatchObject({ domain: 'far.rdaptest', found: true });
    expect(await plugin.describe!(storage)).toMatchObject({ domain: 'far.rdaptest', expiresAt: new Date(BASE + 400 * DAY + HOUR).toISOString() });
    await plugin.reset!(storage);
    expect(await storage.get(ANSWER_KEY)).toBeNull();
    expect(await check('domain://far.rdaptest', {}, { plugin, storage })).toMatchObject({ metrics: { cached: 0 } });
  });

  it('does not store failed lookups', async () => {
    const storage = memoryStorage();
    const before = requests('/domain/busy.rdaptest');
    const { plugin } = clocked();
    await check('domain://busy.rdaptest', {}, { plugin, storage });
    await check('domain://busy.rdaptest', {}, { plugin, storage });
    expect(requests('/domain/busy.rdaptest')).toBe(before + 2);
    expect(await storage.get(ANSWER_KEY)).toBeNull();
  });

  it('keeps the bootstrap file for 24 h per process, and a stale copy while a refresh fails', async () => {
    const { clock, plugin } = clocked();
    const before = requests('/dns.json');
    await check('domain://far.rdaptest', {}, { plugin });
    await check('domain://soon.rdaptest', {}, { plugin });
    await check('domain://example.zz', {}, { plugin });
    expect(requests('/dns.json')).toBe(before + 1);

    clock.now += 25 * HOUR;
    await check('domain://far.rdaptest', {}, { plugin });
    expect(requests('/dns.json')).toBe(before + 2);

    clock.now += 25 * HOUR;
    bootstrapFails = true;
    try {
      expect(await check('domain://far.rdaptest', {}, { plugin })).toMatchObject({ status: 'ok' });
      expect(await check('domain://soon.rdaptest', {}, { plugin })).toMatchObject({ reason: 'domain_expiring' });
      expect(requests('/dns.json')).toBe(before + 3); // the failed refresh, not retried at once
      // Without a copy, the failure is the result.
      expect(await check('domain://far.rdaptest')).toMatchObject({ status: 'error', reason: 'http_status', message: expect.stringMatching(/RDAP bootstrap .*HTTP 500/) });
    } finally {
      bootstrapFails = false;
    }
  });
});

describe('domain plugin: parts', () => {
  it.each([
    ['www.shop.example.co.uk', 'example.co.uk'],
    ['Example.COM.', 'example.com'],
    ['a.b.example.rdaptest', 'example.rdaptest'],
    ['user.github.io', 'github.io'],
    ['co.uk', null],
    ['192.0.2.1', null],
    ['[2001:db8::1]', null],
    ['localhost', null],
  ])('registrable domain of %s is %s', (host, domain) => {
    expect(registrableDomain(host)).toBe(domain);
  });

  it('reads bootstrap services defensively, https first, longest suffix wins', () => {
    const services = parseServices({
      services: [
        [['com', 'net'], ['http://rdap.a.test/', 'https://rdap.a.test/', 'ftp://x/']],
        [['co.zz'], ['https://rdap.b.test/']],
        [['zz'], ['https://rdap.c.test/']],
        [['bad'], []],
        [['weird'], ['gopher://x/']],
        'junk',
        [null, null],
      ],
    });
    expect(serversFor(services, 'example.com')).toEqual(['https://rdap.a.test/', 'http://rdap.a.test/']);
    expect(serversFor(services, 'example.co.zz')).toEqual(['https://rdap.b.test/']);
    expect(serversFor(services, 'example.zz')).toEqual(['https://rdap.c.test/']);
    expect(serversFor(services, 'example.bad')).toEqual([]);
    expect(serversFor(services, 'example.weird')).toEqual([]);
    expect(() => parseServices({ version: '1.0' })).toThrow(/no "services" array/);
    expect(() => parseServices(null)).toThrow(/no "services" array/);
  });

  it('reads registrations of odd shapes without throwing anything but RdapError', () => {
    expect(registrationOf({}, 'x')).toEqual({ expiresAt: null, registrar: null, status: [] });
    expect(registrationOf({ events: [null, 5, { eventAction: 'EXPIRATION', eventDate: '2030-01-01T00:00:00Z' }], entities: 'no', status: [1, 'ok'] }, 'x')).toEqual({
      expiresAt: Date.parse('2030-01-01T00:00:00Z'),
      registrar: null,
      status: ['ok'],
    });
    expect(registrationOf({ entities: [{ roles: ['registrar'], handle: '292' }] }, 'x').registrar).toBe('292');
    expect(() => registrationOf([], 'x')).toThrow(/not a JSON object/);
    expect(() => registrationOf({ events: {} }, 'x')).toThrow(/"events" is not an array/);
  });

  it('validates options, with defaults', () => {
    const v = registry.validate('domain', {});
    expect(v).toEqual({ ok: true, value: { warnDays: 30, errorDays: 7, refreshHours: 12, bootstrapUrl: 'https://data.iana.org/rdap/dns.json', timeoutMs: 10_000 } });
    expect(registry.validate('domain', { bootstrapUrl: 'file:///etc/passwd' })).toMatchObject({ ok: false, problems: [{ field: 'domain.bootstrapUrl' }] });
    expect(registry.validate('domain', { refreshHours: 0 })).toMatchObject({ ok: false, problems: [{ field: 'domain.refreshHours' }] });
  });

  it('is the default plugin of domain: URLs and opt-in on http(s) ones', () => {
    expect(registry.forScheme('domain')).toEqual([domainPlugin]);
    expect(registry.forScheme('https')).toEqual([]);
    expect(registry.accepts(domainPlugin, 'https')).toBe(true);
    expect(registry.accepts(domainPlugin, 'http')).toBe(true);
    expect(registry.accepts(domainPlugin, 'tcp')).toBe(false);
    expect(registry.describe()[0]).toMatchObject({ schemes: ['domain'], optInSchemes: ['http', 'https'] });
  });
});
