/** Monitors as code: `webmon apply -f assets.yaml` against a running api, idempotent. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, startRoles, webmon, type Proc } from './helpers/processes.js';
import { testRedis, type TestRedis } from './helpers/redis.js';

const KEY = 'apply-admin-key-0123456789abcdef';
let t: TestRedis;
let api: Proc;
let env: Record<string, string>;
let rest: ReturnType<typeof client>;
const dir = mkdtempSync(join(tmpdir(), 'webmon-apply-'));

beforeAll(async () => {
  t = await testRedis('apply');
  const d = await startRoles(['api'], { redisUrl: t.url, prefix: t.prefix, adminKey: KEY });
  env = d.env;
  api = d.procs[0]!;
  rest = client(d.apiUrl, KEY);
});
afterAll(async () => {
  await api?.stop();
  await t?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

async function apply(yaml: string, extra: string[] = [], extraEnv: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  const file = join(dir, `assets-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, yaml);
  const p = webmon(['apply', '-f', file, ...extra], { ...env, ...extraEnv });
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

  it(`makes the client's channels those of the file, secrets from \${ENV} references, escalation by name`, async () => {
    const { body: c } = await rest.call('POST', '/clients', { name: 'channels as code' });
    const id = c.client.id as string;
    const secrets = { SLACK_URL: 'https://hooks.slack.com/services/T0/B0/applySecretKey0123', PD_KEY: 'ApplySecretRoutingKey01234567890' };
    const chat = (delaySec: number, escalate: boolean) =>
      `  - name: chat\n    type: slack\n    options:\n      webhookUrl: \${SLACK_URL}\n    filters: {tags: [prod], minSeverity: down}\n    delaySec: ${delaySec}\n${escalate ? '    escalation: {afterSec: 900, channel: pager}\n' : ''}    template:\n      title: "{{asset}} is {{state}}"\n`;
    const pager = `  - name: pager\n    type: pagerduty\n    options: {routingKey: "\${PD_KEY}"}\n`;
    const file1 = `client: ${id}\nchannels:\n${chat(300, true)}${pager}`;
    const first = await apply(file1, [], secrets);
    expect(first).toMatchObject({ code: 0, out: expect.stringContaining(`client ${id} channels: 2 created, 0 updated, 0 kept, 0 deleted, 0 failed`) });
    expect(first.out).not.toMatch(/added|applySecretKey|ApplySecretRoutingKey/); // no assets: list, so no asset sync
    const listed = async () => Object.fromEntries(((await rest.call('GET', `/clients/${id}/channels`)).body.channels as { name: string }[]).map((ch) => [ch.name, ch])) as Record<string, any>;
    let byName = await listed();
    expect(byName.chat).toMatchObject({ type: 'slack', options: { webhookUrl: '[redacted]' }, filters: { tags: ['prod'], minSeverity: 'down' }, delaySec: 300, escalation: { afterSec: 900, channelId: byName.pager.id }, template: { title: '{{asset}} is {{state}}' } });
    expect(JSON.parse((await t.redis.hget(t.keys.channel(id, byName.chat.id), 'options'))!).webhookUrl).toBe(secrets.SLACK_URL);
    expect(JSON.parse((await t.redis.hget(t.keys.channel(id, byName.pager.id), 'options'))!).routingKey).toBe(secrets.PD_KEY);

    expect(await apply(file1, [], secrets)).toMatchObject({ code: 0, out: expect.stringContaining('0 created, 0 updated, 2 kept, 0 deleted, 0 failed') });

    const file2 = `client: ${id}\nchannels:\n${chat(600, false)}  - name: phone\n    type: ntfy\n    options: {topic: apply_topic}\n`;
    expect(await apply(file2, [], secrets)).toMatchObject({ code: 0, out: expect.stringContaining('1 created, 1 updated, 0 kept, 1 deleted, 0 failed') });
    byName = await listed();
    expect(Object.keys(byName).sort()).toEqual(['chat', 'phone']);
    expect(byName.chat).toMatchObject({ delaySec: 600, escalation: null });

    // A missing variable stops apply before any request; a refused channel deletes nothing.
    const missing = await apply(file1, [], { PD_KEY: secrets.PD_KEY });
    expect(missing.code).toBe(2);
    expect(missing.out).toMatch(/channels\.0\.options\.webhookUrl: environment variable SLACK_URL is not set/);
    const refused = await apply(`client: ${id}\nchannels:\n  - name: chat\n    type: slack\n    options: {webhookUrl: not-a-url}\n`);
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(/channels: 0 created, 0 updated, 0 kept, 0 deleted, 1 failed/);
    expect(refused.out).toMatch(/channel chat: .*WEBMON_ERR_VALIDATION.*options\.webhookUrl/);
    expect(refused.out).toMatch(/no channel was deleted/);
    expect(Object.keys(await listed()).sort()).toEqual(['chat', 'phone']);
  });
});
