#!/usr/bin/env node
// Container health check: exits 0 when the webmon role of this container answers, 1 otherwise.
//   node /app/docker/healthcheck.mjs [api|dispatcher|executor|up]
// Without an argument the role is the command of the webmon process in this container.
//   api, up    GET /health on the configured api.port: 200 (Redis and a dispatcher reachable)
//   dispatcher `webmon ping` on the control channel: PONG
//   executor   GET /metrics on the executor's configured metrics port: 200
// Addresses and ports come from the same configuration the role reads (file and WEBMON_* env).
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '@webmon/core';

const MAIN = fileURLToPath(new URL('../packages/cli/dist/main.js', import.meta.url));
const ROLES = ['api', 'dispatcher', 'executor', 'up'];
const TIMEOUT_MS = 4000;

/** The role argument of the first process running the webmon CLI here, if any. */
function runningRole() {
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    let argv;
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const at = argv.findIndex((arg) => arg === MAIN || arg.endsWith('/bin/webmon'));
    const role = at >= 0 ? argv.slice(at + 1).find((arg) => ROLES.includes(arg)) : undefined;
    if (role) return role;
  }
  return undefined;
}

/** A wildcard bind address is reached on loopback. */
function reachable(host) {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

async function httpOk(url) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    await res.body?.cancel();
    if (res.ok) return true;
    process.stderr.write(`${url}: HTTP ${res.status}\n`);
  } catch (err) {
    process.stderr.write(`${url}: ${err.message}\n`);
  }
  return false;
}

async function healthy(role) {
  const config = loadConfig({});
  switch (role) {
    case 'api':
    case 'up':
      return httpOk(`http://${reachable(config.api.host)}:${config.api.port}/health`);
    case 'executor':
      if (config.executor.metricsPort === 0) return true; // nothing to ask; the process is alive
      return httpOk(`http://${reachable(config.executor.metricsHost)}:${config.executor.metricsPort}/metrics`);
    case 'dispatcher':
      return spawnSync(process.execPath, [MAIN, 'ping'], { stdio: ['ignore', 'ignore', 'inherit'], timeout: TIMEOUT_MS }).status === 0;
    default:
      process.stderr.write(`no webmon role to check (${role ?? 'no webmon process found'})\n`);
      return false;
  }
}

process.exit((await healthy(process.argv[2] ?? runningRole())) ? 0 : 1);
