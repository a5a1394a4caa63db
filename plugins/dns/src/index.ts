/**
 * DNS check: asks one resolver one question and judges the answer.
 *
 *   dns://resolver[:port]/name?type=MX   the resolver named (name or address; port 53 by default)
 *   dns:///name?type=A                   the system's resolver (the first of node:dns getServers())
 *
 * Reasons: `nxdomain`, `servfail`, `refused` (the response code, unless it is the one expected),
 * `timeout`, `answer_mismatch` (answers, an expected NXDOMAIN that resolved, or a missing AD
 * flag when DNSSEC validation is required), `slow` (a warning over `slowMs`).
 *
 * A named resolver is reached through the check's egress guard like any target: a client cannot
 * query resolvers on private addresses. The system resolver is the operator's, so any owner may
 * use it; but a client learns no private address through any resolver: an A/AAAA answer its
 * guard would refuse ends the check as `denied` without showing the address.
 */
import { getServers } from 'node:dns';
import { isIP } from 'node:net';
import Type from 'typebox';
import { RegexTimeoutError, USER_REGEX_FORMAT, userRegex } from '@webmon/plugin-sdk';
import { classifyError, definePlugin, fail, ok, round, warn, type EgressGuard, type PluginOutput, type Reason, type Target } from '@webmon/plugin-sdk';
import { RECORD_TYPES, answersOf, mismatch, show, type RecordType } from './answers.js';
import { exchange, type Answer, type Server } from './transport.js';

const RCODES = ['NOERROR', 'NXDOMAIN', 'SERVFAIL', 'REFUSED'] as const;

export const dnsConfigSchema = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 253, description: 'Name to query (default: the URL path).' })),
    type: Type.Optional(Type.Union(RECORD_TYPES.map((t) => Type.Literal(t)), { description: 'Record type (default: the URL\'s ?type=, else A).' })),
    rcode: Type.Union(RCODES.map((r) => Type.Literal(r)), { default: 'NOERROR', description: 'Expected response code (NXDOMAIN: the name must not exist).' }),
    expectExact: Type.Optional(Type.Array(Type.String({ maxLength: 1024 }), { maxItems: 64, description: 'The answers must be exactly these, in any order.' })),
    expectContains: Type.Optional(Type.Array(Type.String({ maxLength: 1024 }), { minItems: 1, maxItems: 64, description: 'Each of these must be among the answers.' })),
    expectRegex: Type.Optional(Type.String({ format: USER_REGEX_FORMAT, minLength: 1, maxLength: 512, description: 'Regular expression (RE2) at least one answer must match.' })),
    requireAd: Type.Boolean({ default: false, description: 'DNSSEC: the resolver must have validated the answer (AD flag).' }),
    recursion: Type.Boolean({ default: true, description: 'Ask for recursion (RD flag); false to query an authoritative server.' }),
    transport: Type.Union([Type.Literal('udp'), Type.Literal('tcp')], { default: 'udp', description: 'udp (TCP again when the answer is truncated) or tcp.' }),
    timeoutMs: Type.Integer({ default: 5_000, minimum: 100, maximum: 60_000, description: 'Time for the query (and its TCP retry).' }),
    slowMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 60_000, description: 'Warn (slow) when the answer takes longer.' })),
  },
  { additionalProperties: false },
);

export type DnsConfig = Type.Static<typeof dnsConfigSchema>;

/** The question an asset asks, from its URL and options; a string when it cannot be asked. */
export function questionOf(url: URL, cfg: DnsConfig): { name: string; type: RecordType } | string {
  const fromUrl = url.searchParams.get('type')?.toUpperCase();
  const type = cfg.type ?? fromUrl ?? 'A';
  if (!(RECORD_TYPES as readonly string[]).includes(type)) return `record type ${JSON.stringify(type)} is not one of ${RECORD_TYPES.join(', ')}`;
  let name = cfg.name;
  if (name === undefined) {
    try {
      name = decodeURIComponent(url.pathname.replace(/^\/+/, ''));
    } catch {
      return 'the name in the URL is not valid percent-encoding';
    }
  }
  name = name.replace(/\.$/, '');
  if (!name) return 'no name to query: give it as the URL path (dns://resolver/example.com) or the option name';
  if (name.length > 253 || name.split('.').some((l) => l.length === 0 || l.length > 63)) return `${JSON.stringify(name.slice(0, 80))} is not a valid DNS name`;
  return { name, type: type as RecordType };
}

/** The first system resolver, from node:dns (forms: `a.b.c.d`, `a.b.c.d:p`, `v6`, `[v6]:p`). */
export function systemServer(servers: readonly string[] = getServers()): Server | null {
  const first = servers[0];
  if (!first) return null;
  const bracketed = /^\[(.+)\]:(\d+)$/.exec(first);
  if (bracketed) return { address: bracketed[1]!, port: Number(bracketed[2]) };
  if (isIP(first)) return { address: first, port: 53 };
  const v4 = /^(.+):(\d+)$/.exec(first);
  return v4 ? { address: v4[1]!, port: Number(v4[2]) } : null;
}

async function serverOf(url: URL, egress: EgressGuard): Promise<Server | null> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!host) return systemServer();
  const [first] = await egress.resolve(host);
  return first ? { address: first.address, port: url.port ? Number(url.port) : 53 } : null;
}

const RCODE_REASON: Record<string, Reason> = { NXDOMAIN: 'nxdomain', SERVFAIL: 'servfail', REFUSED: 'refused' };

interface Judged {
  response: Answer;
  values: string[];
  metrics: Record<string, number>;
  details: Record<string, unknown>;
}

/** The verdict on an answer to a question the resolver did answer. */
async function judge(q: { name: string; type: RecordType }, cfg: DnsConfig, a: Judged, target: Target, signal: AbortSignal): Promise<PluginOutput> {
  const { response, values, metrics, details } = a;
  const asked = `${q.type} ${q.name}`;
  if (response.rcode !== cfg.rcode) {
    const reason = RCODE_REASON[response.rcode] ?? 'answer_mismatch';
    return fail(reason, `${asked}: ${response.rcode}${cfg.rcode !== 'NOERROR' ? `, expected ${cfg.rcode}` : ''}`, metrics, details);
  }
  if (cfg.requireAd && !response.flag_ad) return fail('answer_mismatch', `${asked}: answer not validated (no AD flag)`, metrics, details);
  const wrong = mismatch(q.type, values, { exact: cfg.expectExact, contains: cfg.expectContains });
  if (wrong) return fail('answer_mismatch', `${asked}: ${wrong}`, metrics, details);
  if (cfg.expectRegex !== undefined) {
    const re = userRegex(cfg.expectRegex);
    let matched = false;
    for (const v of values) {
      if (await re.match(v, { signal, owner: target.owner })) {
        matched = true;
        break;
      }
    }
    if (!matched) return fail('answer_mismatch', `${asked}: no answer of ${show(values)} matches /${cfg.expectRegex}/`, metrics, details);
  }
  const summary = response.rcode === 'NOERROR' ? (values.length ? show(values) : 'no records') : response.rcode;
  const message = `${asked}: ${summary} in ${Math.round(metrics.queryMs!)} ms`;
  if (cfg.slowMs !== undefined && metrics.queryMs! > cfg.slowMs) return warn('slow', `${message} (over ${cfg.slowMs} ms)`, metrics, details);
  return ok(message, metrics, details);
}

/** For a client: whether its guard refuses one of the A/AAAA answers (the reason would name the address). */
function privateAnswer(type: RecordType, values: readonly string[], egress: EgressGuard): boolean {
  if (egress.trusted || (type !== 'A' && type !== 'AAAA')) return false;
  return values.some((v) => egress.judgeAddress(v) !== null);
}

const MAX_ANSWERS_KEPT = 50;

/** Records in each section of the response, of any type (`answers` counts those of the type asked). */
function sectionCounts(response: Answer): { answerRrs: number; authorityRrs: number; additionalRrs: number } {
  return { answerRrs: response.answers?.length ?? 0, authorityRrs: response.authorities?.length ?? 0, additionalRrs: response.additionals?.length ?? 0 };
}

export const dnsPlugin = definePlugin({
  name: 'dns',
  description: 'Queries a resolver (dns://resolver/name?type=A, or dns:///name for the system resolver) and checks the response code, the answers and DNSSEC validation.',
  schemes: ['dns'],
  configSchema: dnsConfigSchema,
  async run(target, cfg, ctx): Promise<PluginOutput> {
    const q = questionOf(target.url, cfg);
    if (typeof q === 'string') return fail('unsupported', q);
    let server: Server | null;
    let ex: Awaited<ReturnType<typeof exchange>>;
    const started = performance.now();
    try {
      server = await serverOf(target.url, ctx.egress);
      if (!server) return fail('unsupported', 'no resolver: the URL names none and the system has none configured');
      if (target.url.hostname) ctx.egress.assertHost(server.address);
      ex = await exchange(server, { ...q, recursion: cfg.recursion, dnssec: cfg.requireAd }, { tcp: cfg.transport === 'tcp', signal: ctx.signal, timeoutMs: cfg.timeoutMs });
    } catch (err) {
      const c = classifyError(err, ctx.signal);
      return fail(c.reason, c.message);
    }
    const queryMs = round(performance.now() - started);
    const { values, minTtl } = answersOf(ex.response, q.type);
    if (privateAnswer(q.type, values, ctx.egress)) return fail('denied', `${q.type} ${q.name}: an answer is an address this owner may not reach (not shown)`);
    const metrics: Record<string, number> = { queryMs, answers: values.length, ad: ex.response.flag_ad ? 1 : 0, tcp: ex.tcp ? 1 : 0, ...sectionCounts(ex.response) };
    if (minTtl !== null) metrics.minTtlSec = minTtl;
    const details = { resolver: `${server.address}:${server.port}`, name: q.name, type: q.type, rcode: ex.response.rcode, answers: values.slice(0, MAX_ANSWERS_KEPT) };
    try {
      return await judge(q, cfg, { response: ex.response, values, metrics, details }, target, ctx.signal);
    } catch (err) {
      if (err instanceof RegexTimeoutError) return fail('timeout', `expectRegex: ${err.message}`, metrics, details);
      throw err;
    }
  },
});
