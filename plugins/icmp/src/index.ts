/**
 * ICMP echo check: `icmp://host` sends `count` echo requests with the system `ping` and reports
 * loss and round-trip times.
 *
 * Reasons: `unreachable` (the network said so: no route, or ICMP errors instead of replies),
 * `timeout` (every request lost, or the budget ran out before one was sent), `packet_loss` (a
 * warning above `warnLossPercent`), `slow` (a warning when the mean round trip is over
 * `warnRttMs`), `unsupported` (no host, no usable ping), `denied` (the egress policy).
 *
 * Why the ping program: Node has no raw or ICMP sockets without native code, and unprivileged
 * ICMP datagram sockets exist only where `net.ipv4.ping_group_range` admits the executor's group
 * (it is `1 0`, nobody, on most distributions). iputils ping holds CAP_NET_RAW (or is setuid).
 *
 * The host is resolved once through the check's egress guard, every address judged, and ping is
 * given the chosen numeric address: it never resolves a name itself.
 */
import Type from 'typebox';
import { classifyError, definePlugin, fail, ok, warn, type Plugin, type PluginContext, type PluginOutput } from '@webmon/plugin-sdk';
import { lossPercent, parsePing, type PingReport } from './parse.js';
import { MAX_OUTPUT_BYTES, runPing, type PingRequest, type PingRun } from './ping.js';

export { parsePing, lossPercent, type PingReport, type Rtt } from './parse.js';
export { pingArgs } from './ping.js';

export const icmpConfigSchema = Type.Object(
  {
    count: Type.Integer({ default: 3, minimum: 1, maximum: 20, description: 'Echo requests sent per check.' }),
    intervalMs: Type.Integer({ default: 1_000, minimum: 200, maximum: 10_000, description: 'Time between two requests (ping -i).' }),
    packetTimeoutMs: Type.Integer({ default: 2_000, minimum: 100, maximum: 30_000, description: 'How long to wait for a reply (ping -W).' }),
    timeoutMs: Type.Integer({ default: 15_000, minimum: 1_000, maximum: 120_000, description: 'Budget for the whole check; ping is stopped (and its statistics kept) shortly before.' }),
    family: Type.Union([Type.Literal('any'), Type.Literal('ipv4'), Type.Literal('ipv6')], { default: 'any', description: 'Address family of a host name (any: the first address it resolves to).' }),
    warnLossPercent: Type.Number({ default: 0, minimum: 0, maximum: 100, description: 'Warn (packet_loss) when more than this percentage of requests is lost.' }),
    warnRttMs: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 60_000, description: 'Warn (slow) when the mean round trip is longer.' })),
  },
  { additionalProperties: false },
);

export type IcmpConfig = Type.Static<typeof icmpConfigSchema>;

export interface IcmpPluginOptions {
  /**
   * The ping program and any prefix before its arguments, e.g. `['ip', 'netns', 'exec', 'ns1',
   * 'ping']`. Operator code only (tests, packaging); never from an asset's options.
   */
  command?: readonly [string, ...string[]];
}

/** Time kept back from the budget to read ping's output and answer. */
function marginMs(timeoutMs: number): number {
  return Math.min(1_000, Math.max(50, timeoutMs / 10));
}

const round = (n: number): number => Math.round(n * 1000) / 1000;

/** The address ping is given: the host resolved (or the literal judged) by the egress guard. */
async function addressOf(host: string, cfg: IcmpConfig, ctx: PluginContext): Promise<{ address: string; family: 4 | 6 } | string> {
  const all = await ctx.egress.resolve(host);
  const wanted = cfg.family === 'ipv4' ? 4 : cfg.family === 'ipv6' ? 6 : null;
  const first = all.find((a) => wanted === null || a.family === wanted);
  if (!first) return `${host} has no ${cfg.family === 'ipv4' ? 'IPv4' : 'IPv6'} address`;
  ctx.egress.assertHost(first.address);
  return { address: first.address, family: first.family === 6 ? 6 : 4 };
}

/** An address (IPv4, or IPv6 in any spelling) inside an error text: not shown to clients. */
const ADDRESS_IN_TEXT = /\b\d{1,3}(?:\.\d{1,3}){3}\b|\b[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?:%\S+)?/gi;

function shownProblems(problems: readonly string[], trusted: boolean): string[] {
  return trusted ? [...problems] : problems.map((p) => p.replace(ADDRESS_IN_TEXT, '[address]'));
}

function metricsOf(r: PingReport): Record<string, number> {
  const metrics: Record<string, number> = { sent: r.transmitted ?? 0, received: r.received, lossPercent: lossPercent(r) };
  if (r.rtt && r.received > 0) {
    metrics.rttMinMs = r.rtt.min;
    metrics.rttAvgMs = r.rtt.avg;
    metrics.rttMaxMs = r.rtt.max;
    metrics.rttMdevMs = round(r.rtt.mdev);
  }
  if (r.errors) metrics.errors = r.errors;
  if (r.duplicates) metrics.duplicates = r.duplicates;
  return metrics;
}

/** ping ended without statistics: it could not start, open its socket, or send at all. */
function noStatistics(run: PingRun, problems: readonly string[]): PluginOutput {
  const said = problems[0];
  if (run.spawnError === 'ENOENT') return fail('unsupported', 'the system ping program is not installed (Debian/Ubuntu: apt-get install iputils-ping)');
  if (run.spawnError) return fail('unsupported', `ping could not be started: ${run.spawnError}`);
  if (run.overflow) return fail('protocol', `ping wrote more than ${MAX_OUTPUT_BYTES} bytes`);
  if (said && /^(?:connect|sendmsg|sendto): /.test(said)) return fail('unreachable', `ping: ${said}`);
  if (said && /^socket: |not permitted|permission denied/i.test(said)) return fail('unsupported', `ping cannot open an ICMP socket (${said}): it needs CAP_NET_RAW or a ping_group_range that admits the executor`);
  if (run.stopped) return fail('timeout', 'no echo request was sent within timeoutMs');
  return fail('protocol', `ping failed${run.exitCode !== null ? ` (exit code ${run.exitCode})` : ''}${said ? `: ${said}` : ''}`);
}

/** The verdict on ping's report for `address`. Exported for tests on recorded outputs. */
export function judgePing(report: PingReport, cfg: Pick<IcmpConfig, 'count' | 'warnLossPercent' | 'warnRttMs'>, address: string, opts: { stopped?: boolean; trusted?: boolean } = {}): PluginOutput {
  const problems = shownProblems(report.problems, opts.trusted ?? true);
  const sent = report.transmitted ?? 0;
  const metrics = metricsOf(report);
  const details: Record<string, unknown> = { address, problems };
  if (opts.stopped) details.stoppedAtBudget = true;
  const early = opts.stopped && sent < cfg.count ? ` (stopped at timeoutMs after ${sent} of ${cfg.count})` : '';
  if (report.received === 0) {
    if (report.errors > 0 || problems.length > 0) {
      return fail('unreachable', `${address}: ${problems[0] ?? 'ICMP errors instead of replies'} (no reply to ${sent} echo request${sent === 1 ? '' : 's'})${early}`, metrics, details);
    }
    return fail('timeout', `${address}: no reply to ${sent} echo request${sent === 1 ? '' : 's'}${early}`, metrics, details);
  }
  const rtt = report.rtt;
  const times = rtt ? `, rtt min/avg/max/mdev ${rtt.min}/${rtt.avg}/${rtt.max}/${round(rtt.mdev)} ms` : '';
  const loss = metrics.lossPercent!;
  const summary = `${address}: ${report.received}/${sent} replies${loss > 0 ? ` (${loss}% lost)` : ''}${times}${early}`;
  if (loss > cfg.warnLossPercent) return warn('packet_loss', `${summary} (loss over ${cfg.warnLossPercent}%)`, metrics, details);
  if (cfg.warnRttMs !== undefined && rtt && rtt.avg > cfg.warnRttMs) return warn('slow', `${summary} (mean over ${cfg.warnRttMs} ms)`, metrics, details);
  return ok(summary, metrics, details);
}

async function check(command: readonly [string, ...string[]], host: string, cfg: IcmpConfig, ctx: PluginContext): Promise<PluginOutput> {
  const started = performance.now();
  let target: Awaited<ReturnType<typeof addressOf>>;
  try {
    target = await addressOf(host, cfg, ctx);
  } catch (err) {
    const c = classifyError(err, ctx.signal);
    return fail(c.reason, c.message);
  }
  if (typeof target === 'string') return fail('dns', target);
  const req: PingRequest = { ...target, count: cfg.count, intervalMs: cfg.intervalMs, packetTimeoutMs: cfg.packetTimeoutMs };
  const stopAfterMs = ctx.timeoutMs - (performance.now() - started) - marginMs(ctx.timeoutMs);
  const run = await runPing(command, req, stopAfterMs, ctx.signal);
  if (ctx.signal.aborted) return fail('timeout', 'timed out');
  const report = parsePing(run.stdout, run.stderr);
  if (report.transmitted === null) return noStatistics(run, shownProblems(report.problems, ctx.egress.trusted));
  const out = judgePing(report, cfg, target.address, { stopped: run.stopped, trusted: ctx.egress.trusted });
  out.details = { ...out.details, family: target.family === 6 ? 'ipv6' : 'ipv4' };
  return out;
}

/** The plugin, running `options.command` (default: `ping` from PATH). */
export function createIcmpPlugin(options: IcmpPluginOptions = {}): Plugin<typeof icmpConfigSchema> {
  const command = options.command ?? ['ping'];
  return definePlugin({
    name: 'icmp',
    description: 'Sends ICMP echo requests with the system ping (icmp://host) and reports loss and round-trip times.',
    schemes: ['icmp'],
    configSchema: icmpConfigSchema,
    async run(target, cfg, ctx): Promise<PluginOutput> {
      const host = target.url.hostname.replace(/^\[|\]$/g, '');
      if (!host) return fail('unsupported', 'no host: write icmp://host');
      return check(command, host, cfg, ctx);
    },
  });
}

export const icmpPlugin = createIcmpPlugin();
