/** Fan-out: consumer group position, crash recovery, several instances, reminders, prompt stop. */
import { afterEach, describe, expect, it } from 'vitest';
import { harness, SECRET, sleep, until, type Harness } from '../test/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const pendingCount = async (hh: Harness) => ((await hh.t.redis.xpending(hh.t.keys.events, hh.t.keys.notifierGroup)) as unknown[])[0];

describe('notifier fan-out', () => {
  it('starts the group at the end of the stream once, then loses nothing while stopped', async () => {
    h = await harness('f-start');
    const rx = await h.receiver(SECRET);
    await h.webhooks.set('acme', { url: rx.url, secret: SECRET });
    const a = await h.asset('acme', 'https://example.com/');
    await h.emit(a, 'acme', 'unknown', 'up'); // before notifications existed: not replayed
    const n1 = await h.start({}, 'first');
    const e1 = await h.emit(a, 'acme', 'up', 'down');
    await until(async () => (await h!.webhooks.status('acme'))?.delivered === 1, 3000, 'the first delivery');
    await n1.stop();
    const e2 = await h.emit(a, 'acme', 'down', 'up'); // while no notifier runs
    await h.start({}, 'second');
    await until(() => rx.received.length === 2, 3000, 'the delivery after the restart');
    await sleep(100);
    expect(rx.received.map((r) => r.body.id)).toEqual([e1, e2]);
  });

  it('delivers events a crashed consumer read but never acknowledged (taken over, or re-read under its own name)', async () => {
    h = await harness('f-crash');
    const rx = await h.receiver(SECRET);
    await h.webhooks.set('acme', { url: rx.url, secret: SECRET });
    const a = await h.asset('acme', 'https://a.example.com/');
    const b = await h.asset('acme', 'https://b.example.com/');
    await h.t.redis.xgroup('CREATE', h.t.keys.events, h.t.keys.notifierGroup, '$', 'MKSTREAM');
    const readAs = (consumer: string) => h!.t.redis.call('XREADGROUP', 'GROUP', h!.t.keys.notifierGroup, consumer, 'COUNT', 10, 'STREAMS', h!.t.keys.events, '>');
    const lost = await h.emit(a, 'acme', 'up', 'down');
    await readAs('crashed'); // read, then "crash" before XACK
    const own = await h.emit(b, 'acme', 'up', 'down');
    await readAs('restarting');
    expect(await pendingCount(h)).toBe(2);
    // Same consumer name: its own pending entries are re-read at start, without waiting.
    const n1 = await h.start({ claimIdleMs: 60_000 }, 'restarting');
    await until(() => rx.received.length === 1, 2000, "the restarted consumer's own entry");
    expect(rx.received[0]!.body.id).toBe(own);
    await n1.stop();
    // Another consumer takes over the crashed one's entry once it has been idle for claimIdleMs.
    const n2 = await h.start({ claimIdleMs: 150 }, 'survivor');
    await until(() => rx.received.length === 2, 3000, 'the taken-over entry');
    await sleep(300);
    expect(rx.received.map((r) => r.body.id)).toEqual([own, lost]);
    expect(n2.stats().reclaimed).toBe(1);
    expect(await pendingCount(h)).toBe(0);
  });

  it('drops a taken-over state change that is older than one already notified for the same asset', async () => {
    h = await harness('f-stale');
    const rx = await h.receiver(SECRET);
    await h.webhooks.set('acme', { url: rx.url, secret: SECRET });
    const a = await h.asset('acme', 'https://a.example.com/');
    await h.t.redis.xgroup('CREATE', h.t.keys.events, h.t.keys.notifierGroup, '$', 'MKSTREAM');
    await h.emit(a, 'acme', 'up', 'down');
    await h.t.redis.call('XREADGROUP', 'GROUP', h.t.keys.notifierGroup, 'crashed', 'COUNT', 10, 'STREAMS', h.t.keys.events, '>');
    const recovered = await h.emit(a, 'acme', 'down', 'up');
    const n = await h.start({ claimIdleMs: 150 });
    await until(() => n.stats().skipped.stale === 1, 3000, 'the stale entry to be handled');
    await sleep(100);
    // Telling the receiver "down" after "up" would leave it believing the asset is down.
    expect(rx.received.map((r) => [r.body.id, r.body.to])).toEqual([[recovered, 'up']]);
    expect(await pendingCount(h)).toBe(0);
  });

  it('two notifiers on one Redis deliver every event exactly once', async () => {
    h = await harness('f-two');
    const rx = await h.receiver(SECRET);
    const clients = ['c1', 'c2', 'c3'];
    for (const c of clients) await h.webhooks.set(c, { url: rx.url, secret: SECRET });
    const assets = await Promise.all(clients.flatMap((c) => [0, 1].map(async (i) => ({ c, id: await h!.asset(c, `https://${c}-${i}.example.com/`) }))));
    const n1 = await h.start({}, 'one');
    const n2 = await h.start({}, 'two');
    const ids: string[] = [];
    for (let round = 0; round < 5; round++) {
      for (const { c, id } of assets) ids.push(await h.emit(id, c, round % 2 ? 'down' : 'up', round % 2 ? 'up' : 'down'));
      await sleep(5);
    }
    await until(() => rx.received.length >= ids.length, 20_000, 'every delivery');
    await sleep(300);
    expect(rx.received.map((r) => r.body.id).sort()).toEqual([...ids].sort());
    const [s1, s2] = [n1.stats(), n2.stats()];
    expect(s1.queued + s2.queued).toBe(ids.length);
    expect(s1.delivered + s2.delivered).toBe(ids.length);
    // Per asset, always in order. (Across the assets of a client, two notifiers may interleave
    // changes that happened within milliseconds: each queues what it read, in its own time.)
    for (const [k, { id: assetId }] of assets.entries()) {
      expect(rx.received.filter((r) => r.body.asset.id === assetId).map((r) => r.body.id)).toEqual(ids.filter((_, i) => i % assets.length === k));
    }
  });

  it('handles events at most once even when notifiers keep taking entries from each other', async () => {
    h = await harness('f-race');
    const rx = await h.receiver(SECRET);
    await h.webhooks.set('acme', { url: rx.url, secret: SECRET });
    const assets = await Promise.all([0, 1, 2].map((i) => h!.asset('acme', `https://r${i}.example.com/`)));
    // claimIdleMs 0: each notifier claims what the other has just read, so both handle the same entries.
    for (const name of ['x', 'y', 'z']) await h.start({ claimIdleMs: 0, claimIntervalMs: 1 }, name);
    const emitted: { asset: string; id: string }[] = [];
    for (let round = 0; round < 6; round++) {
      for (const a of assets) emitted.push({ asset: a, id: await h.emit(a, 'acme', round % 2 ? 'down' : 'up', round % 2 ? 'up' : 'down') });
    }
    const lastIds = assets.map((a) => emitted.filter((e) => e.asset === a).at(-1)!.id);
    await until(() => lastIds.every((id) => rx.received.some((r) => r.body.id === id)), 5000, 'the latest change of every asset');
    await until(async () => (await pendingCount(h!)) === 0 && (await h!.webhooks.status('acme'))?.pending === 0, 3000, 'a quiet stream');
    const got = rx.received.map((r) => r.body.id);
    expect(new Set(got).size).toBe(got.length);
    for (const a of assets) {
      const seq = rx.received.filter((r) => r.body.asset.id === a).map((r) => r.body.id);
      expect(seq).toEqual(emitted.filter((e) => e.asset === a && seq.includes(e.id)).map((e) => e.id));
    }
  });

  it('reminds every remindEverySec while an asset stays down, and stops when it recovers', async () => {
    h = await harness('f-remind');
    const rx = await h.receiver(SECRET);
    await h.webhooks.set('acme', { url: rx.url, secret: SECRET, remindEverySec: 0.2 });
    const a = await h.asset('acme', 'https://flaky.example.com/', ['edge']);
    await h.start();
    const downAt = Date.now();
    const down = await h.emit(a, 'acme', 'up', 'down', downAt);
    await until(() => rx.received.filter((r) => r.body.type === 'reminder').length >= 3, 3000, 'three reminders');
    const up = await h.emit(a, 'acme', 'down', 'up');
    await until(() => rx.received.some((r) => r.body.id === up), 2000, 'the recovery');
    const count = rx.received.length;
    await sleep(500);
    expect(rx.received).toHaveLength(count);
    expect(await h.t.redis.zcard(h.t.keys.reminders)).toBe(0);
    const reminders = rx.received.filter((r) => r.body.type === 'reminder');
    expect(rx.received[0]!.body.id).toBe(down);
    expect(rx.received.at(-1)!.body.id).toBe(up);
    expect(reminders[0]!.body).toMatchObject({
      type: 'reminder',
      asset: { id: a, url: 'https://flaky.example.com/', tags: ['edge'] },
      from: 'down',
      to: 'down',
      reason: 'http_status',
      since: new Date(downAt).toISOString(),
      client: 'acme',
    });
    expect(reminders.every((r) => r.verified && r.body.id.startsWith(`reminder:${a}:`))).toBe(true);
    expect(new Set(reminders.map((r) => r.body.id)).size).toBe(reminders.length);
    const gaps = reminders.slice(1).map((r, i) => r.at - reminders[i]!.at);
    for (const g of gaps) expect(g).toBeGreaterThanOrEqual(150);
  });

  it('stops promptly: ends the blocking read and gives back the lease of a request in flight', async () => {
    h = await harness('f-stop');
    const rx = await h.receiver(SECRET);
    rx.respond = async () => {
      await sleep(3000);
      return 200;
    };
    await h.webhooks.set('acme', { url: rx.url, secret: SECRET });
    const a = await h.asset('acme', 'https://slow.example.com/');
    const n = await h.start({ blockMs: 30_000, timeoutMs: 10_000, leaseMs: 30_000, stopGraceMs: 100 });
    await h.emit(a, 'acme', 'up', 'down');
    await until(async () => (await h!.t.redis.hget(h!.t.keys.webhook('acme'), 'lease')) !== null, 2000, 'a delivery in flight');
    await sleep(50);
    const t0 = Date.now();
    await n.stop();
    expect(Date.now() - t0).toBeLessThan(1000);
    const status = await h.webhooks.status('acme');
    expect(status).toMatchObject({ pending: 1, failures: 0, enabled: true });
    expect(await h.t.redis.hget(h.t.keys.webhook('acme'), 'lease')).toBeNull();
    expect(Number(await h.t.redis.zscore(h.t.keys.outboxDue, 'acme'))).toBeLessThanOrEqual(Date.now());
  });
});
