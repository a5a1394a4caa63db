/** Monitors as code: `webmon apply -f assets.yaml` against a running api, idempotent. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, webmon, webmonEnv, type Proc } from './helpers/processes.js';
import { testRedis, type TestRedis } from './helpers/redis.js';

const KEY = 'apply-admin-key-0123456789abcdef';
let t: TestRedis;
let api: Proc;
let env: Record<string, string>;
let rest: ReturnType<typeof client>;
const dir = mkdtempSync(join(tmpdir(), 'webmon-apply-'));

beforeAll(async () => {
  t = await testRedis('apply');
  const d = await webmonEnv(t.url, t.prefix, KEY);
  env = d.env;
  api = webmon(['api'], env);
  await api.waitFor(/api listening/);
  rest = client(d.apiUrl, KEY);
});
afterAll(async () => {
  await api?.stop();
  await t?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

async function apply(yaml: string, extra: string[] = []): Promise<{ code: number | null; out: string }> {
  const file = join(dir, `assets-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, yaml);
  const p = webmon(['apply', '-f', file, ...extra], env);
  const code = await new Promise<number | null>((r) => p.child.once('exit', r));
  return { code, out: p.output() };
}

describe('webmon apply', () => {
  it('creates, keeps, updates and removes to match the file', async () => {
    const { body: c } = await rest.call('POST', '/clients', { name: 'as code' });
    const file1 = `client: ${c.client.id}\nassets:\n  - https://one.apply.test/\n  - url: https://two.apply.test/\n    tags: [shop]\n    interval: 60\n`;
    expect(await apply(file1)).toMatchObject({ code: 0, out: expect.stringContaining('2 added, 0 updated, 0 kept, 0 removed, 0 failed') });
    expect(await apply(file1)).toMatchObject({ code: 0, out: expect.stringContaining('0 added, 0 updated, 2 kept, 0 removed') });
    const file2 = `client: ${c.client.id}\nassets:\n  - url: https://two.apply.test/\n    tags: [shop, vip]\n    interval: 60\n  - tcp://mail.apply.test:25\n`;
    expect(await apply(file2)).toMatchObject({ code: 0, out: expect.stringContaining('1 added, 1 updated, 0 kept, 1 removed, 0 failed') });
    const listed = await rest.call('GET', '/assets?q=apply.test');
    expect(listed.body.items.map((a: { url: string }) => a.url).sort()).toEqual(['https://two.apply.test/', 'tcp://mail.apply.test:25']);

    // With the client's own key, the client comes from /whoami.
    const bad = await apply(`- https://three.apply.test/\n- nonsense\n`, ['--key', c.apiKey]);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/1 added, 0 updated, 0 kept, 0 removed, 1 failed/);
    expect(bad.out).toMatch(/item 1: WEBMON_ERR_INVALID_URL/);
    expect(bad.out).toMatch(/nothing was removed/);
  });

  it('refuses a malformed file without calling the api', async () => {
    const res = await apply('assets: {oops: 1}\n');
    expect(res.code).toBe(2);
    expect(res.out).toMatch(/expected a list of assets/);
  });
});
