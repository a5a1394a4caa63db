/**
 * GET /probe?target=…&module=…: blackbox_exporter's probe endpoint, answered by a webmon check
 * (see probe/run.ts) in blackbox_exporter's metric names (probe/render.ts), so that a scrape
 * config written for blackbox_exporter works with only its address and an API key changed.
 */
import { isIP } from 'node:net';
import { CONTENT_TYPE, WebmonError, type JobRecord, type Principal } from '@webmon/core';
import Type from 'typebox';
import { stringify as toYaml } from 'yaml';
import type { ApiContext, App } from '../context.js';
import { PROBE_EXAMPLE } from '../examples.js';
import { error } from '../openapi.js';
import { loadModules, type ProbeModule } from '../probe/modules.js';
import { exposition, probeFamilies } from '../probe/render.js';
import { runProbe } from '../probe/run.js';

const ProbeQuery = Type.Object(
  {
    target: Type.String({ minLength: 1, maxLength: 2048, description: 'What to probe, as blackbox_exporter takes it: a URL (http), host:port (tcp), a host (icmp), the resolver host[:port] (dns).' }),
    module: Type.String({ minLength: 1, maxLength: 128, default: 'http_2xx', description: 'A module of probe.modulesFile (or a built-in one).' }),
    record: Type.Boolean({ default: false, description: 'Keep the probe\'s asset (checked on its interval from then on) and the result in its history.' }),
    debug: Type.Boolean({ default: false, description: 'Answer with what the probe did, the metrics and the module, as plain text.' }),
  },
  { additionalProperties: false },
);

/** The webmon URL a blackbox_exporter target stands for, under the module's prober. */
export function probeUrl(m: ProbeModule, target: string): string {
  const host = (h: string) => (isIP(h) === 6 ? `[${h}]` : h);
  switch (m.prober) {
    case 'http':
      return /^https?:\/\//i.test(target) ? target : `http://${target}`;
    case 'tcp':
      return `tcp://${target}`;
    case 'icmp':
      return `icmp://${host(target)}`;
    case 'dns':
      return `dns://${host(target)}/${encodeURIComponent(m.query!.name)}?type=${m.query!.type}`;
  }
}

/**
 * Seconds the probe may take, as blackbox_exporter decides it: the scrape timeout the scraper
 * sends (else probe.maxTimeoutSec) less the offset, or the module's timeout when shorter.
 */
export function probeTimeoutSec(header: string | string[] | undefined, m: ProbeModule, probe: { maxTimeoutSec: number; timeoutOffsetSec: number }): number {
  const value = Array.isArray(header) ? header[0] : header;
  let scrape = probe.maxTimeoutSec;
  if (value !== undefined && value !== '') {
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0) throw new WebmonError('WEBMON_ERR_VALIDATION', `X-Prometheus-Scrape-Timeout-Seconds: not a number of seconds (got ${JSON.stringify(value.slice(0, 40))})`);
    if (n > 0) scrape = Math.min(n, probe.maxTimeoutSec);
  }
  const max = scrape - probe.timeoutOffsetSec;
  const own = m.timeoutSec ?? 0;
  const chosen = (own > 0 && own < max) || max < 0 ? own : max;
  return Math.max(chosen, 0.1);
}

function debugText(ctx: ApiContext, m: ProbeModule, url: string, job: JobRecord | null, metrics: string): string {
  const r = job?.results?.[0];
  const outcome = job?.outcome === 'unsupported' && !r ? 'unsupported (the egress policy refused the target, or no plugin can check it)' : (job?.outcome ?? 'none');
  const log = job ? `job ${job.id}: ${job.status}${job.error ? ` (${job.error})` : ''}, outcome ${outcome}\n${r ? `${r.plugin}: ${r.status}${r.reason ? ` ${r.reason}` : ''}: ${r.message}` : 'no plugin result'}` : 'the check did not finish in time';
  const module = { prober: m.prober, timeout: m.timeoutSec, url, plugin: m.prober, options: ctx.registry.redact({ [m.prober]: m.options })[m.prober] };
  return `Logs for the probe:\n${log}\n\n\n\nMetrics that would have been returned:\n${metrics}\n\n\nModule configuration:\n${toYaml(module)}`;
}

export function probeRoutes(ctx: ApiContext) {
  const modules = loadModules(ctx.config.probe.modulesFile, ctx.registry);
  // Probes running per client in this process: each holds a job and a wait of up to its timeout.
  const running = new Map<string, number>();
  const max = ctx.config.probe.maxConcurrentPerClient;
  const enter = (who: Principal) => {
    if (who.admin) return () => {};
    const now = running.get(who.id) ?? 0;
    if (now >= max) throw new WebmonError('WEBMON_ERR_RATE_LIMITED', `at most ${max} probes of one client at once; retry when one has answered`, { limit: max, retryAfterSec: 1 });
    running.set(who.id, now + 1);
    return () => {
      const left = (running.get(who.id) ?? 1) - 1;
      if (left > 0) running.set(who.id, left);
      else running.delete(who.id);
    };
  };
  return async function routes(app: App) {
    app.get(
      '/probe',
      {
        schema: {
          tags: ['probe'],
          operationId: 'probe',
          summary: 'Probe a target now, answered like blackbox_exporter\'s /probe (Prometheus text with its metric names)',
          querystring: ProbeQuery,
          response: {
            200: { description: 'Prometheus text exposition format (debug=true: plain text)', content: { 'text/plain': { schema: { type: 'string' }, example: PROBE_EXAMPLE } } },
            409: error(409, 'An asset of yours watches this URL with other options (WEBMON_ERR_PROBE_CONFLICT)'),
          },
        },
      },
      async (req, reply) => {
        const { target, module: name, record, debug } = req.query;
        const m = modules.get(name);
        if (!m) throw new WebmonError('WEBMON_ERR_PROBE_MODULE', `unknown module ${JSON.stringify(name.slice(0, 128))} (known: ${[...modules.keys()].join(', ')})`);
        const timeoutSec = probeTimeoutSec(req.headers['x-prometheus-scrape-timeout-seconds'], m, ctx.config.probe);
        const url = probeUrl(m, target);
        const leave = enter(req.principal);
        let run: Awaited<ReturnType<typeof runProbe>>;
        try {
          run = await runProbe(ctx, req.principal, m, url, { record: record || m.record, timeoutMs: Math.round(timeoutSec * 1000) });
        } finally {
          leave();
        }
        const text = exposition(probeFamilies(run.job, m, new URL(url), run.wallMs));
        if (debug) return reply.header('content-type', 'text/plain; charset=utf-8').send(debugText(ctx, m, url, run.job, text));
        return reply.header('content-type', CONTENT_TYPE).send(text);
      },
    );
  };
}
