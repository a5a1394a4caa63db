#!/usr/bin/env node
/**
 * CPU per request of the HTTP clients an http check can use, each opening a new connection per
 * request as the check does by default, against the same local target (its own process, not
 * counted): undici (a pooled Agent, `reset: true`), Node's http client with no agent (what the
 * checks use since it was measured here), and a bare socket writing the request and reading to
 * the end (the floor: connect, write, read, close, no parsing).
 *
 *   node bench/http-client.mjs [--requests 10000] [--concurrency 20] [--rounds 2] [--json]
 *
 * Each client runs in its own process, 3000 unmeasured requests first, then --requests timed
 * ones; CPU is the process's own (process.cpuUsage: user + system).
 */
import { fork } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';

const CLIENTS = ['undici', 'node:http', 'socket'];
const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '2' },
    json: { type: 'boolean', default: false },
    role: { type: 'string' },
    client: { type: 'string' },
    port: { type: 'string' },
  },
});
const N = Math.max(100, Number(values.requests));
const C = Math.max(1, Number(values.concurrency));
const BODY = '<html><head><title>ok</title></head><body><p>hello</p></body></html>'.padEnd(108, ' ');

if (values.role === 'target') {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html', 'content-length': BODY.length });
    res.end(BODY);
  });
  server.listen(0, '127.0.0.1', () => process.send(server.address().port));
  process.on('disconnect', () => process.exit(0));
} else if (values.role === 'client') {
  const port = Number(values.port);
  const origin = `http://127.0.0.1:${port}`;
  const agent = new Agent({ connections: null, keepAliveTimeout: 4000 });
  const headers = { 'user-agent': 'webmon-bench' };
  const ops = {
    undici: async (i) => {
      const res = await request(`${origin}/p?i=${i}`, { dispatcher: agent, reset: true, headers });
      await res.body.text();
    },
    'node:http': (i) =>
      new Promise((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, path: `/p?i=${i}`, agent: false, headers }, (res) => {
          res.on('end', resolve).on('error', reject).resume();
        });
        req.on('error', reject).end();
      }),
    socket: (i) =>
      new Promise((resolve, reject) => {
        const s = net.connect(port, '127.0.0.1', () => s.write(`GET /p?i=${i} HTTP/1.1\r\nhost: 127.0.0.1\r\nuser-agent: webmon-bench\r\nconnection: close\r\n\r\n`));
        s.on('data', () => undefined).on('end', () => resolve(s.destroy())).on('error', reject);
      }),
  };
  const op = ops[values.client];
  const run = async (n) => {
    let i = 0;
    await Promise.all(Array.from({ length: C }, async () => { while (i < n) await op(i++); }));
  };
  await run(3000);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await run(N);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  process.send({ client: values.client, perSec: Math.round((N / ms) * 1000), cpuMsPerRequest: Math.round(((cpu.user + cpu.system) / 1000 / N) * 1000) / 1000, sysMsPerRequest: Math.round((cpu.system / 1000 / N) * 1000) / 1000 });
  await agent.close();
  process.exit(0);
} else {
  const self = fileURLToPath(import.meta.url);
  const target = fork(self, ['--role', 'target'], { stdio: 'inherit' });
  const port = await new Promise((r) => target.once('message', r));
  const results = [];
  for (let round = 0; round < Math.max(1, Number(values.rounds)); round++) {
    for (const client of CLIENTS) {
      const child = fork(self, ['--role', 'client', '--client', client, '--port', String(port), '--requests', String(N), '--concurrency', String(C)], { stdio: 'inherit' });
      results.push(await new Promise((resolve, reject) => child.once('message', resolve).once('exit', (code) => reject(new Error(`${client} exited with ${code}`)))));
    }
  }
  target.kill();
  if (values.json) process.stdout.write(`${JSON.stringify({ date: new Date().toISOString(), requests: N, concurrency: C, results })}\n`);
  else {
    process.stdout.write(`HTTP clients, a new connection per request — ${new Date().toISOString()}, node ${process.version}, ${N} requests, concurrency ${C}\n`);
    for (const r of results) process.stdout.write(`  ${r.client.padEnd(10)} ${String(r.perSec).padStart(6)} req/s   ${r.cpuMsPerRequest.toFixed(3)} ms CPU/request (kernel ${r.sysMsPerRequest.toFixed(3)})\n`);
  }
}
