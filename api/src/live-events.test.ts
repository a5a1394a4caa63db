/**
 * GET /events/stream: state changes written to the events stream (as job_complete.lua writes
 * them) reach open streams, each only its own tenant's (the admin's: all), over a real socket.
 */
import { request, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobStore, jobPolicy } from '@webmon/core';
import { ADMIN, testApi, type TestApi } from '../../test/helpers/api.js';
import { MAX_STREAMS_PER_PRINCIPAL } from './routes/events-stream.js';

let api: TestApi;
let base: string;
beforeAll(async () => {
  api = await testApi('live-events');
  base = await api.app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(() => api.close());

interface Stream {
  res: IncomingMessage;
  text: () => string;
  /** Resolves once the stream holds `pattern`; rejects after `ms`. */
  until: (pattern: RegExp, ms?: number) => Promise<void>;
  close: () => void;
}

function open(headers: Record<string, string>): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}/events/stream`, { headers }, (res) => {
      let text = '';
      const waiters: Array<() => void> = [];
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        for (const w of waiters.splice(0)) w();
      });
      const until = (pattern: RegExp, ms = 5000) =>
        new Promise<void>((ok, fail) => {
          const timer = setTimeout(() => fail(new Error(`no ${pattern} in ${JSON.stringify(text)}`)), ms);
          const check = () => {
            if (pattern.test(text)) {
              clearTimeout(timer);
              ok();
            } else waiters.push(check);
          };
          check();
        });
      resolve({ res, text: () => text, until, close: () => req.destroy() });
    });
    req.on('error', reject);
    req.end();
  });
}

/** A state transition in the events stream, with the fields job_complete.lua writes. */
function transition(owner: string, assetId: string, from: string, to: string): Promise<string | null> {
  return api.t.redis.xadd(api.t.keys.events, '*', 'asset', assetId, 'owner', owner, 'from', from, 'to', to, 'reason', 'http: refused', 'at', String(Date.now()), 'job', 'j1');
}

describe('GET /events/stream', () => {
  it('delivers each tenant its own state changes, the admin all of them', async () => {
    const a = await api.newClient('Live A');
    const b = await api.newClient('Live B');
    const sa = await open({ authorization: `Bearer ${a.apiKey}` });
    const sb = await open({ authorization: `Bearer ${b.apiKey}` });
    const admin = await open({ authorization: `Bearer ${ADMIN}` });
    try {
      expect(sa.res.statusCode).toBe(200);
      expect(sa.res.headers['content-type']).toMatch(/^text\/event-stream/);
      await Promise.all([sa.until(/: ready/), sb.until(/: ready/), admin.until(/: ready/)]);

      const idA = await transition(a.id, 'assetA1', 'up', 'down');
      const idB = await transition(b.id, 'assetB1', 'unknown', 'up');
      await sa.until(new RegExp(`id: ${idA}`));
      await sb.until(new RegExp(`id: ${idB}`));
      await admin.until(new RegExp(`id: ${idB}`));

      const frame = /event: state\nid: (\S+)\ndata: (.*)\n\n/.exec(sa.text());
      expect(frame?.[1]).toBe(idA);
      expect(JSON.parse(frame![2]!)).toEqual({ assetId: 'assetA1', from: 'up', to: 'down', reason: 'http: refused', at: expect.any(Number) });
      expect(admin.text()).toContain(`id: ${idA}`);
      // A's stream is in stream order: once A's next change is there, B's would have been before it.
      const idA2 = await transition(a.id, 'assetA1', 'down', 'up');
      await sa.until(new RegExp(`id: ${idA2}`));
      expect(sa.text()).not.toContain('assetB1');
      expect(sb.text()).not.toContain('assetA1');
    } finally {
      for (const s of [sa, sb, admin]) s.close();
    }
  });

  it('delivers the transition a completed check records', async () => {
    const c = await api.newClient('Live check');
    const asset = await api.call('POST', '/assets', { url: 'https://live.events.test/', plugins: ['http'] }, c.apiKey);
    const s = await open({ authorization: `Bearer ${c.apiKey}` });
    try {
      await s.until(/: ready/);
      const jobs = new JobStore(api.t.redis, api.t.keys, api.t.scripts, jobPolicy(api.config));
      const [id] = await jobs.enqueue([{ assetId: asset.body.id, owner: c.id }], 0);
      await jobs.claim(id!, 'tok', 60_000);
      const result = { plugin: 'http', status: 'ok' as const, reason: null, message: 'HTTP 200', durationMs: 12, metrics: {} };
      await jobs.complete({ jobId: id!, token: 'tok', outcome: 'ok', reason: null, results: [result], durationMs: 12, owner: c.id, assetId: asset.body.id });
      await s.until(new RegExp(`"assetId":"${asset.body.id}","from":"unknown","to":"up"`));
    } finally {
      s.close();
    }
  });

  it('follows the session cookie, and replays what came after Last-Event-ID', async () => {
    const c = await api.newClient('Live C');
    const first = await transition(c.id, 'assetC1', 'unknown', 'up');
    const second = await transition(c.id, 'assetC1', 'up', 'down');
    await transition('someone-else', 'assetX', 'up', 'down');
    const signIn = await api.app.inject({ method: 'POST', url: '/session', payload: { key: c.apiKey } });
    const cookie = /^webmon_session=([^;]*)/.exec(String(signIn.headers['set-cookie']))![1]!;
    const s = await open({ cookie: `webmon_session=${cookie}`, 'last-event-id': first! });
    try {
      await s.until(new RegExp(`id: ${second}`));
      expect(s.text()).not.toContain(`id: ${first}\n`);
      expect(s.text()).not.toContain('assetX');
      const third = await transition(c.id, 'assetC1', 'down', 'up');
      await s.until(new RegExp(`id: ${third}`));
    } finally {
      s.close();
    }
    const none = await open({});
    expect(none.res.statusCode).toBe(401);
    none.close();
  });
});

describe('GET /events', () => {
  it('lists the latest state changes of the caller, newest first, the admin all of them', async () => {
    const a = await api.newClient('Recent A');
    const b = await api.newClient('Recent B');
    await transition(a.id, 'recentA1', 'unknown', 'up');
    await transition(b.id, 'recentB1', 'unknown', 'down');
    await transition(a.id, 'recentA2', 'up', 'down');
    const mine = await api.call('GET', '/events?limit=5', undefined, a.apiKey);
    expect(mine.status).toBe(200);
    expect(mine.body.items.map((e: { assetId: string }) => e.assetId)).toEqual(['recentA2', 'recentA1']);
    expect(mine.body.items[0]).toMatchObject({ from: 'up', to: 'down', reason: 'http: refused', id: expect.stringMatching(/^\d+-\d+$/), at: expect.any(String) });
    const one = await api.call('GET', '/events?limit=1', undefined, a.apiKey);
    expect(one.body.items.map((e: { assetId: string }) => e.assetId)).toEqual(['recentA2']);
    const all = await api.call('GET', '/events?limit=3', undefined, ADMIN);
    expect(all.body.items.map((e: { assetId: string }) => e.assetId)).toEqual(['recentA2', 'recentB1', 'recentA1']);
    expect((await api.call('GET', '/events?limit=0', undefined, a.apiKey)).status).toBe(400);
  });
});

describe('GET /events/stream limits', () => {
  it('keeps at most MAX_STREAMS_PER_PRINCIPAL streams of one client open, and frees a place when one closes', async () => {
    const c = await api.newClient('Many tabs');
    const auth = { authorization: `Bearer ${c.apiKey}` };
    const streams: Stream[] = [];
    try {
      for (let i = 0; i < MAX_STREAMS_PER_PRINCIPAL; i++) {
        const s = await open(auth);
        expect(s.res.statusCode).toBe(200);
        await s.until(/: ready/);
        streams.push(s);
      }
      const over = await open(auth);
      expect(over.res.statusCode).toBe(429);
      over.close();
      // Another client is not counted with this one.
      const other = await api.newClient('Other tab');
      const fine = await open({ authorization: `Bearer ${other.apiKey}` });
      expect(fine.res.statusCode).toBe(200);
      fine.close();
      streams.pop()!.close();
      let again: Stream | undefined;
      for (let i = 0; i < 50; i++) {
        again = await open(auth);
        if (again.res.statusCode === 200) break;
        again.close();
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(again!.res.statusCode).toBe(200);
      streams.push(again!);
    } finally {
      for (const s of streams) s.close();
    }
  });
});
