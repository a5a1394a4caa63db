/**
 * Configuration: one schema with defaults, loaded once at start-up from an optional YAML/JSON
 * file and `WEBMON_*` environment variables (environment wins), validated, then frozen.
 *
 * Environment names are derived from the schema path: `api.adminKey` → `WEBMON_API_ADMIN_KEY`.
 * A bad value throws ConfigError naming the field, e.g. `api.port: must be <= 65535 (got 70000)`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import Type, { type Static, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import Value from 'typebox/value';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from './errors.js';
import { validateCidrs } from './egress.js';
import { createPolicy } from './policy.js';
import { schemaProblems } from './schema-errors.js';
import { Z85_KEY_PATTERN } from './z85.js';

const Endpoint = (d: string, description: string) =>
  Type.String({ default: d, pattern: '^(tcp|ipc|inproc)://.+$', description });
const Int = (d: number, min: number, max: number, description: string) =>
  Type.Integer({ default: d, minimum: min, maximum: max, description });

export const ConfigSchema = Type.Object(
  {
    dataDir: Type.String({ default: './data', minLength: 1, description: 'Directory for the managed Redis data and generated keys.' }),
    log: Type.Object(
      {
        level: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info', description: 'Log level.' }),
        format: Type.Enum(['auto', 'json', 'pretty'], {
          default: 'auto',
          description: 'Log lines: `json` (one object a line), `pretty` (readable; coloured on a terminal), or `auto`: pretty when stdout is a terminal, else json.',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    redis: Type.Object(
      {
        url: Type.Optional(
          Type.String({
            pattern: '^(rediss?(\\+cluster)?|redis\\+unix)://',
            description:
              'Redis URL. Unset: `webmon up` starts a managed local redis-server; single roles use redis://127.0.0.1:6379. A Redis Cluster: `redis+cluster://host:port[,host:port…]` (seed nodes), or a `redis://` URL with several comma-separated hosts. A Unix socket: `redis+unix:///path/redis.sock[?password=…]`.',
          }),
        ),
        shards: Type.Optional(
          Type.Integer({
            minimum: 1,
            maximum: 1024,
            description:
              'Shards the per-asset data is split into, each one Redis Cluster hash slot (fixed for the life of a deployment: a process started with another count than the stored one refuses to run). Unset: 1 on a single Redis, 16 on a Cluster.',
          }),
        ),
        keyPrefix: Type.String({ default: 'webmon', pattern: '^[A-Za-z0-9_.-]{1,64}$', description: 'Prefix of every Redis key.' }),
        serverBinary: Type.String({ default: 'redis-server', description: 'redis-server binary for the managed local Redis.' }),
      },
      { default: {}, additionalProperties: false },
    ),
    api: Type.Object(
      {
        host: Type.String({ default: '127.0.0.1', minLength: 1, description: 'Address the REST API binds.' }),
        port: Int(8080, 0, 65535, 'Port the REST API listens on (0: any free port).'),
        publicUrl: Type.String({
          default: '',
          maxLength: 2048,
          pattern: '^(https?://[^\\s]+)?$',
          description: 'The address users reach the API and dashboard at (e.g. https://webmon.example.com): notifications link to the asset\'s dashboard page under it. Empty: no link.',
        }),
        adminKey: Type.Optional(
          Type.String({ minLength: 16, description: 'Admin API key. Unset with `webmon up`: generated once into <dataDir>/admin.key.' }),
        ),
        bodyLimit: Int(8 * 1024 * 1024, 1024, 256 * 1024 * 1024, 'Largest accepted request body, in bytes.'),
        maxBatch: Int(10_000, 1, 100_000, 'Most assets in one batch create, or jobs in one push.'),
        publicMetrics: Type.Boolean({ default: true, description: 'GET /metrics needs no API key (fleet totals; series per asset only as metrics.perAssetPublic allows); false: the admin key.' }),
        sessionMaxSec: Int(604_800, 60, 31_536_000, 'Dashboard sessions end this long after sign-in, however much they are used (default 7 days).'),
        sessionTtlSec: Int(43_200, 60, 2_592_000, 'Dashboard sessions (signed in with an API key) end after this long without a request (sliding; default 12 h).'),
        trustForwardedProto: Type.Boolean({
          default: false,
          description: 'Behind a TLS-terminating proxy: `X-Forwarded-Proto: https` marks the session cookie `Secure` (it always is when the api itself is reached over TLS). Set only when the proxy sets that header itself.',
        }),
        signInPerMinute: Int(10, 1, 10_000, 'Sign-in attempts (POST /session) per client address per minute, across api processes.'),
        publicPerMinute: Int(600, 1, 1_000_000, 'Requests to public status pages and badges (no key) per client address per minute, across api processes.'),
        dashboardDir: Type.Optional(Type.String({ minLength: 1, description: 'Folder of the built dashboard served at / (default: packages/dashboard/dist of this install, made by `npm run build`).' })),
      },
      { default: {}, additionalProperties: false },
    ),
    zmq: Type.Object(
      {
        frontend: Endpoint('tcp://127.0.0.1:5559', 'Dispatcher PULL socket: the dispatcher binds it, the api connects to it.'),
        backend: Endpoint('tcp://127.0.0.1:5560', 'Dispatcher PUSH socket: the dispatcher binds it, executors connect to it.'),
        control: Endpoint('tcp://127.0.0.1:5561', 'Dispatcher control channel (a ROUTER socket: REQ or DEALER clients send PING, STATUS, SNAPSHOT NOW).'),
        sendTimeoutMs: Int(2000, 1, 60_000, 'How long the api waits to hand job ids to ZeroMQ before leaving them to the recovery sweep.'),
        maxMessageBytes: Int(1_048_576, 1024, 268_435_456, 'Largest ZeroMQ message any dispatcher socket accepts (ZMQ_MAXMSGSIZE); a peer sending more is disconnected.'),
        curve: Type.Object(
          {
            serverPublicKey: Type.Optional(Type.String({ pattern: Z85_KEY_PATTERN, description: 'The dispatcher\'s CURVE public key (Z85). Set on every role: clients encrypt to it.' })),
            serverSecretKey: Type.Optional(Type.String({ pattern: Z85_KEY_PATTERN, description: 'The dispatcher\'s CURVE secret key (dispatcher only). Set: every dispatcher socket requires CURVE.' })),
            clientPublicKey: Type.Optional(Type.String({ pattern: Z85_KEY_PATTERN, description: 'This process\'s CURVE public key (api, executor, CLI).' })),
            clientSecretKey: Type.Optional(Type.String({ pattern: Z85_KEY_PATTERN, description: 'This process\'s CURVE secret key (api, executor, CLI).' })),
            allowedClientKeys: Type.Array(Type.String({ pattern: Z85_KEY_PATTERN }), { default: [], description: 'Client public keys the dispatcher accepts (its own public key always is).' }),
          },
          { default: {}, additionalProperties: false, description: '`webmon keys` makes key pairs.' },
        ),
      },
      { default: {}, additionalProperties: false },
    ),
    dispatcher: Type.Object(
      {
        sweepIntervalMs: Int(1000, 50, 60_000, 'How often expired leases and stale queued jobs are re-dispatched.'),
        requeueAfterMs: Int(15_000, 1000, 3_600_000, 'A queued job not claimed for this long is dispatched again (its id was lost with an executor or a socket).'),
        backendHighWaterMark: Int(64, 1, 100_000, 'Job ids buffered per executor connection; small keeps priorities effective.'),
      },
      { default: {}, additionalProperties: false },
    ),
    scheduler: Type.Object(
      {
        enabled: Type.Boolean({ default: true, description: 'Check every asset every interval (the dispatcher schedules).' }),
        tickMs: Int(100, 50, 60_000, 'How often due assets are looked for (and the longest wait when the queue is full): short, so that jobs reach the executors in a steady stream rather than a burst a second.'),
        batch: Int(1000, 1, 100_000, 'Most checks scheduled by one script call (bounds how long Redis is busy with it); calls go on at once while more are due and the queue has room.'),
        maxQueued: Int(100_000, 1, 10_000_000, 'Upper bound of the backpressure bound: no new scheduled checks while that many jobs are queued. The bound in force follows the alive executors (their concurrency and completion rate), at most this.'),
      },
      { default: {}, additionalProperties: false },
    ),
    politeness: Type.Object(
      {
        hostIntervalMs: Int(1000, 0, 3_600_000, 'Least time between the starts of two checks of one host, across all executors (0: no limit).'),
        maxWaitMs: Int(2000, 0, 3_600_000, 'An executor waits this long for a host slot; a longer wait gives the job back to run later.'),
        hosts: Type.Record(Type.String(), Type.Integer({ minimum: 0, maximum: 3_600_000 }), { default: {}, description: 'hostIntervalMs per host name, e.g. {"api.example.com": 100}.' }),
        tags: Type.Record(Type.String(), Type.Integer({ minimum: 0, maximum: 3_600_000 }), { default: {}, description: 'hostIntervalMs for assets with a tag (the smallest of an asset\'s tags wins; a host entry wins over tags).' }),
        maxRetryAfterSec: Int(3600, 0, 86_400, 'Longest Retry-After honoured; a host asking for more waits this long.'),
      },
      { default: {}, additionalProperties: false },
    ),
    executor: Type.Object(
      {
        concurrency: Int(100, 1, 10_000, 'Checks in flight per executor process. A check holds its slot for its whole run, network waits included: at 100 ms a check, 100 slots are at most 1,000 checks/s per executor.'),
        processes: Int(0, 0, 1024, 'Executor processes run by `webmon up` (0: one per core, os.availableParallelism()); `--executors N` wins. Extra ones use metricsPort + their index, or none when metricsPort is 0.'),
        leaseMs: Int(60_000, 1000, 3_600_000, 'Lease on a claimed job; extended while the check runs.'),
        metricsHost: Type.String({ default: '127.0.0.1', minLength: 1, description: 'Address of the executor\'s own Prometheus endpoint.' }),
        metricsPort: Int(9464, 0, 65535, 'Port of the executor\'s own Prometheus endpoint (GET /metrics); 0 turns it off.'),
      },
      { default: {}, additionalProperties: false },
    ),
    metrics: Type.Object(
      {
        perAsset: Type.Boolean({
          default: false,
          description: 'GET /metrics on the api adds series per asset: webmon_asset_up, webmon_asset_state, webmon_asset_check_duration_seconds (docs/metrics.md).',
        }),
        perAssetMax: Int(1000, 1, 1_000_000, 'Most assets one scrape exports, the first ones created; past it webmon_asset_series_truncated is 1. Series per asset: at most 1 + 7 (one per state) + one per plugin.'),
        perAssetBudgetMs: Int(2000, 50, 60_000, 'Time one scrape may spend reading per-asset series from Redis; the assets not read by then are left out (webmon_asset_series_truncated is 1).'),
        perAssetUrlMax: Int(200, 0, 2048, 'Longest `url` label, in characters (a longer URL is cut and ends with …); 0 leaves the label out.'),
        perAssetPublic: Type.Enum(['none', 'admin', 'all'], {
          default: 'admin',
          description: 'Per-asset series on a /metrics request without a key (api.publicMetrics): none; admin (the assets the admin owns); all (every client\'s too). A key sees its own assets (the admin key: all).',
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    checks: Type.Object(
      {
        timeoutMs: Int(10_000, 100, 600_000, 'Default overall timeout of one plugin run.'),
        defaultIntervalSec: Int(300, 10, 31_536_000, 'Default check interval of a new asset.'),
        minIntervalSec: Int(10, 1, 86_400, 'Smallest interval an asset may have.'),
        downAfter: Int(3, 1, 100, 'Consecutive failed checks before an asset is down.'),
        upAfter: Int(1, 1, 100, 'Consecutive good checks before a down asset is up again.'),
      },
      { default: {}, additionalProperties: false },
    ),
    jobs: Type.Object(
      {
        retentionSec: Int(86_400, 60, 31_536_000, 'How long a finished job pushed through POST /jobs is kept (a scheduled check\'s job is deleted when it ends: its result is in the history).'),
        maxAttempts: Int(3, 1, 100, 'Dispatch attempts before a job is failed.'),
        retryBaseMs: Int(1000, 10, 300_000, 'Delay before retrying a job whose executor was lost; doubles with each attempt (at most 5 minutes).'),
      },
      { default: {}, additionalProperties: false },
    ),
    policy: Type.Object(
      {
        denyHosts: Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { default: [], description: 'Host names never checked; "*.example.com" covers a domain and its subdomains.' }),
        allowHosts: Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { default: [], description: 'When set, only these host names are checked.' }),
        denyCidrs: Type.Array(Type.String({ minLength: 3, maxLength: 64 }), { default: [], description: 'Address ranges never checked (IP literals and resolved addresses), e.g. 169.254.0.0/16.' }),
        allowCidrs: Type.Array(Type.String({ minLength: 3, maxLength: 64 }), { default: [], description: 'When set, only addresses in these ranges are checked.' }),
      },
      { default: {}, additionalProperties: false },
    ),
    tenants: Type.Object(
      {
        allowCidrs: Type.Array(Type.String({ minLength: 3, maxLength: 64 }), {
          default: [],
          description: 'Non-public ranges every client may reach (clients may reach only public unicast addresses otherwise; per-client ranges: PATCH /clients/:id).',
        }),
        limits: Type.Object(
          {
            maxAssets: Int(10_000, 0, 10_000_000, 'Most assets one client may have.'),
            maxMaintenanceWindows: Int(100, 0, 100_000, 'Most maintenance windows one client may have.'),
            maxIdsPerWindow: Int(1000, 1, 100_000, 'Most asset ids (and tags) one maintenance window may name.'),
            maxOneOffWindowSec: Int(2_592_000, 60, 31_536_000, 'Longest one-off maintenance window (default 30 days); one-off windows are removed once they end.'),
            maxSyncItems: Int(10_000, 1, 1_000_000, 'Most assets in one declarative sync (PUT /clients/:id/assets).'),
            jobsPerMinute: Int(120, 1, 1_000_000, 'Most POST /jobs requests per client per minute.'),
            requestsPerSecond: Int(50, 1, 1_000_000, 'Most API requests per client per second.'),
            maxBodyBytes: Int(10 * 1024 * 1024, 1024, 104_857_600, 'Most response body bytes a client\'s check reads (the http plugin\'s maxBodyBytes is capped to it).'),
            maxApiKeys: Int(10, 1, 1000, 'Most API keys one client may have (expired ones count until revoked).'),
          },
          { default: {}, additionalProperties: false, description: 'Quotas of every client; the admin can override them per client (PATCH /clients/:id). The admin key itself is not limited.' },
        ),
      },
      { default: {}, additionalProperties: false },
    ),
    notifier: Type.Object(
      {
        enabled: Type.Boolean({ default: true, description: 'Deliver state changes to client webhooks (runs in the dispatcher).' }),
        maxFailures: Int(20, 1, 1000, 'Consecutive failed deliveries after which a client\'s notifications are disabled.'),
        backoffBaseMs: Int(1000, 10, 3_600_000, 'First retry delay of a failed delivery; doubles each time (at most 10 minutes).'),
        timeoutMs: Int(10_000, 100, 120_000, 'Time allowed for one webhook request.'),
      },
      { default: {}, additionalProperties: false },
    ),
    snapshots: Type.Object(
      {
        afterWrites: Type.Enum(['off', 'async', 'sync'], {
          default: 'async',
          description: 'RDB snapshot after API writes (assets, clients, sync, maintenance): off; async (coalesced, the answer does not wait); sync (the answer waits for a snapshot containing the write).',
        }),
        minIntervalMs: Int(5000, 0, 3_600_000, 'Least time between the starts of two snapshots asked for by SNAPSHOT NOW; requests in between share the next one.'),
        everySec: Int(0, 0, 86_400, 'The dispatcher asks for a snapshot whenever the last one is this old and something changed (0: only Redis\'s own save rules). `webmon up` with its local redis-server uses 300 when this is 0.'),
        keyDelayUs: Int(100, 0, 100_000, 'Paced snapshots (every everySec, and after API writes with afterWrites async): the snapshot process pauses this long after each key it writes (Redis\'s rdb-key-save-delay, set for the fork only), so a large snapshot uses a share of one core instead of all of it, and takes longer: about (this + 0.2 ms) per key under check load (3.5 minutes for 100,000 assets). 0: full speed. SNAPSHOT NOW and afterWrites sync are never paced.'),
      },
      { default: {}, additionalProperties: false },
    ),
    history: Type.Object(
      {
        maxResults: Int(100, 1, 1_000_000, 'Raw results kept per asset (oldest dropped first; about 0.1-0.2 KB each, compactly encoded).'),
        maxAgeSec: Int(604_800, 60, 315_360_000, 'Raw results older than this are dropped (default 7 days; statistics come from the roll-ups).'),
        minutesForSec: Int(86_400, 3600, 31_536_000, 'Per-minute roll-ups are kept this long (default 1 day). From two hours up, hour and day roll-ups are folded from them once an hour or day has closed; shorter, every check also writes its hour and day roll-ups (more Redis time per check).'),
        hoursForSec: Int(1_209_600, 86_400, 315_360_000, 'Per-hour roll-ups are kept this long (default 14 days; a window that starts earlier is computed from per-day roll-ups).'),
        daysForSec: Int(31_622_400, 86_400, 3_153_600_000, 'Per-day roll-ups are kept this long (default 366 days: every window up to a year, a leap year and its partial first and last days included; each further year costs about 20 KB per asset).'),
        maxEvents: Int(100_000, 100, 100_000_000, 'State-change events kept in the event stream of all assets (the notifier reads it; trimmed approximately).'),
        maxAssetEvents: Int(1000, 100, 1_000_000, 'State-change events kept per asset, in its own stream (the transitions of GET /assets/{id}/stats; trimmed approximately).'),
      },
      { default: {}, additionalProperties: false },
    ),
    probe: Type.Object(
      {
        modulesFile: Type.Optional(
          Type.String({ minLength: 1, description: 'blackbox_exporter-style modules file (YAML) for GET /probe, read by the api at start-up. Unset: the built-in modules (http_2xx, http_post_2xx, tcp_connect, icmp, dns_udp, …).' }),
        ),
        maxTimeoutSec: Type.Number({ default: 120, minimum: 1, maximum: 600, description: 'Longest a probe may take: the timeout when the scraper sends no X-Prometheus-Scrape-Timeout-Seconds (as blackbox_exporter), and a cap on what it sends.' }),
        timeoutOffsetSec: Type.Number({ default: 0.5, minimum: 0, maximum: 60, description: 'Taken off the scrape timeout a scraper sends, to answer before it gives up (blackbox_exporter --timeout-offset).' }),
        maxConcurrentPerClient: Int(50, 1, 100_000, 'Probes of one client running at once in one api process (the admin is not limited); more answer 429.'),
      },
      { default: {}, additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;

const validator = Compile(ConfigSchema);

export interface LoadConfigOptions {
  /** Path of a YAML/JSON config file. Default: $WEBMON_CONFIG, else ./webmon.yaml when it exists. */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Values applied over file and environment (for tests and CLI flags). */
  overrides?: Record<string, unknown>;
}

/** Loads, validates and freezes the configuration. Throws ConfigError naming the bad field. */
export function loadConfig(opts: LoadConfigOptions = {}): Readonly<Config> {
  const env = opts.env ?? process.env;
  const file = opts.file ?? env.WEBMON_CONFIG ?? (existsSync('webmon.yaml') ? 'webmon.yaml' : undefined);
  let raw: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(resolve(file), 'utf8');
    } catch (err) {
      throw new ConfigError(`config file ${file}: ${(err as Error).message}`);
    }
    try {
      const parsed: unknown = parseYaml(text);
      if (parsed !== null && parsed !== undefined) {
        if (!isPlainObject(parsed)) throw new Error('top level must be a mapping');
        raw = parsed;
      }
    } catch (err) {
      throw new ConfigError(`config file ${file}: ${(err as Error).message}`);
    }
  }
  applyEnv(ConfigSchema, raw, env, 'WEBMON', []);
  if (opts.overrides) deepMerge(raw, opts.overrides);
  return validateConfig(raw);
}

/** Applies defaults and validates an already-assembled config object. */
export function validateConfig(raw: unknown): Readonly<Config> {
  const withDefaults = Value.Default(ConfigSchema, structuredClone(raw ?? {}));
  if (!validator.Check(withDefaults)) {
    const problems = schemaProblems(validator.Errors(withDefaults));
    const first = problems[0] ?? { field: '', message: 'invalid' };
    const got = first.message === 'unknown option' ? '' : ` (got ${describeValue(valueAt(withDefaults, first.field))})`;
    const extra = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
    throw new ConfigError(`invalid configuration: ${first.field || '(root)'}: ${first.message}${got}${extra}`);
  }
  const config = withDefaults as Config;
  createPolicy(config.policy); // throws ConfigError naming a malformed CIDR
  validateCidrs(config.tenants.allowCidrs, 'tenants.allowCidrs');
  const curve = config.zmq.curve;
  if (curve.serverSecretKey && !curve.serverPublicKey) {
    throw new ConfigError('invalid configuration: zmq.curve.serverPublicKey: needed with zmq.curve.serverSecretKey (the pair from webmon keys)');
  }
  if (Boolean(curve.clientPublicKey) !== Boolean(curve.clientSecretKey)) {
    throw new ConfigError('invalid configuration: zmq.curve.clientSecretKey: give the client key pair whole (public and secret)');
  }
  if (curve.serverPublicKey && !curve.clientSecretKey && !curve.serverSecretKey) {
    throw new ConfigError('invalid configuration: zmq.curve.clientSecretKey: a CURVE client needs its own key pair (webmon keys)');
  }
  return deepFreeze(config);
}

function envName(prefix: string, path: string[]): string {
  return [prefix, ...path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase())].join('_');
}

/** Whether a ZeroMQ endpoint is reachable only from this host (loopback, ipc, inproc). */
export function isLocalEndpoint(endpoint: string): boolean {
  if (!endpoint.startsWith('tcp://')) return true;
  const host = endpoint.slice(6).replace(/:[^:]*$/, '').replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/** Socket options for a dispatcher (server) socket: CURVE when a server secret key is set. */
export function curveServerOptions(config: Readonly<Config>): { curveServer: true; curveSecretKey: string; zapDomain: string } | Record<string, never> {
  const c = config.zmq.curve;
  return c.serverSecretKey ? { curveServer: true, curveSecretKey: c.serverSecretKey, zapDomain: 'webmon' } : {};
}

/**
 * Socket options for a client of the dispatcher: CURVE when the server's public key is set.
 * A process that holds the server pair too (`webmon up`) uses it as its client pair.
 */
export function curveClientOptions(config: Readonly<Config>): { curveServerKey: string; curvePublicKey: string; curveSecretKey: string } | Record<string, never> {
  const c = config.zmq.curve;
  const pub = c.clientPublicKey ?? (c.serverSecretKey ? c.serverPublicKey : undefined);
  const sec = c.clientSecretKey ?? c.serverSecretKey;
  return c.serverPublicKey && pub && sec ? { curveServerKey: c.serverPublicKey, curvePublicKey: pub, curveSecretKey: sec } : {};
}

/** Lists every environment variable the schema understands, with its config path. */
export function configEnvVars(): Array<{ env: string; path: string; description: string; default: unknown }> {
  const out: Array<{ env: string; path: string; description: string; default: unknown }> = [];
  walkLeaves(ConfigSchema, [], (schema, path) => {
    out.push({ env: envName('WEBMON', path), path: path.join('.'), description: String(schema.description ?? ''), default: schema.default });
  });
  return out;
}

type SchemaNode = TSchema & { type?: string; properties?: Record<string, TSchema>; default?: unknown; description?: string };

function walkLeaves(schema: TSchema, path: string[], visit: (s: SchemaNode, path: string[]) => void): void {
  const node = schema as SchemaNode;
  if (node.type === 'object' && node.properties) {
    for (const [key, child] of Object.entries(node.properties)) walkLeaves(child, [...path, key], visit);
  } else {
    visit(node, path);
  }
}

function applyEnv(schema: TSchema, target: Record<string, unknown>, env: NodeJS.ProcessEnv, prefix: string, base: string[]): void {
  walkLeaves(schema, base, (node, path) => {
    const name = envName(prefix, path);
    const value = env[name];
    if (value === undefined || value === '') return;
    let cursor: Record<string, unknown> = target;
    for (const key of path.slice(0, -1)) {
      const next = cursor[key];
      if (!isPlainObject(next)) cursor[key] = {};
      cursor = cursor[key] as Record<string, unknown>;
    }
    const leaf = path[path.length - 1]!;
    cursor[leaf] = coerceEnv(node, value, name);
  });
}

function coerceEnv(node: SchemaNode, value: string, name: string): unknown {
  if (node.type === 'integer' || node.type === 'number') {
    const n = Number(value);
    if (!Number.isFinite(n)) throw new ConfigError(`invalid configuration: ${name}: must be a number (got "${value}")`);
    return n;
  }
  if (node.type === 'array') return value.split(',').map((v) => v.trim()).filter(Boolean);
  if (node.type === 'object') {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      throw new ConfigError(`invalid configuration: ${name}: must be a JSON object (got "${value}")`);
    }
  }
  if (node.type === 'boolean') {
    if (/^(1|true|yes|on)$/i.test(value)) return true;
    if (/^(0|false|no|off)$/i.test(value)) return false;
    throw new ConfigError(`invalid configuration: ${name}: must be true or false (got "${value}")`);
  }
  return value;
}

function valueAt(root: unknown, path: string): unknown {
  let cur: unknown = root;
  for (const seg of path ? path.split('.') : []) {
    if (!isPlainObject(cur)) return undefined;
    cur = cur[seg];
  }
  return cur;
}

function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (v === undefined) return 'nothing';
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepMerge(target: Record<string, unknown>, source: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(source)) {
    if (isPlainObject(v) && isPlainObject(target[k])) deepMerge(target[k] as Record<string, unknown>, v);
    else if (isPlainObject(v)) {
      target[k] = {};
      deepMerge(target[k] as Record<string, unknown>, v);
    } else target[k] = v;
  }
}

function deepFreeze<T>(obj: T): Readonly<T> {
  if (isPlainObject(obj) || Array.isArray(obj)) {
    for (const v of Object.values(obj)) deepFreeze(v);
    Object.freeze(obj);
  }
  return obj;
}
