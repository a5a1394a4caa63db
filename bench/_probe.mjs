import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKeys, openRedis, startManagedRedis } from '@webmon/core';
import { api, createAssets, lifecycle, say, sleep, startTarget, startWebmonUp } from './lib.mjs';
const N = Number(process.env.N ?? 2000);
const life = lifecycle({ timeoutSec: 300 });
const workDir = mkdtempSync(join(tmpdir(), 'wm-probe-'));
const redisS = await startManagedRedis({ dir: join(workDir, 'redis') });
life.onCleanup(() => redisS.stop(10_000));
try {
  const target = await startTarget(life);
  const { base } = await startWebmonUp(life, { redisUrl: redisS.url, executors: 1, workDir, env: { WEBMON_POLITENESS_HOST_INTERVAL_MS: '0', WEBMON_SCHEDULER_ENABLED: 'false' } });
  const db = await openRedis({ url: redisS.url, name: 'probe' });
  const keys = createKeys('webmon');
  const ids = await createAssets(base, target.url, N);
  const ev = async () => { const m = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(await db.info('commandstats')); return { calls: +m[1], usec: +m[2] }; };
  for (let r = 0; r < Number(process.env.R ?? 5); r++) {
    await db.config('RESETSTAT');
    const t0 = Date.now();
    for (let i = 0; i < ids.length; i += 1000) await api(base, 'POST', '/jobs', { assetIds: ids.slice(i, i + 1000) });
    for (;;) { const q = await db.zcard(keys.jobsQueued), l = await db.zcard(keys.jobsLeases); if (!q && !l) break; await sleep(50); }
    const e = await ev();
    say(`round ${r}: ${Date.now() - t0} ms, evalsha ${e.calls} calls ${(e.usec / e.calls).toFixed(1)} us/call`);
    const cs = await db.info('commandstats');
    say(cs.split('\n').filter((l) => l.startsWith('cmdstat')).map((l) => l.replace(/,rejected.*$/, '')).join('\n'));
  }
  const id = ids[5];
  for (const k of await db.keys(`*${id}*`)) { const t = await db.type(k); say(`${k} ${t} ${await db.call('MEMORY', 'USAGE', k)}`); if (t === 'hash') say(JSON.stringify(await db.hgetall(k)).slice(0, 1500)); if (t === 'list') say(JSON.stringify(await db.lrange(k, 0, 2)).slice(0, 1500)); }
  say(`dbsize ${await db.dbsize()}`);
  db.disconnect();
} finally { await life.cleanup(); }
