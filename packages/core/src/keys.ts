/**
 * The one place that builds Redis key names. Every key starts with `<prefix>:`.
 *
 * Shards. A deployment splits its per-asset data into a fixed number of shards (KeyLayout).
 * With one shard on a single Redis (the default) key names carry no hash tag. Otherwise every
 * key of shard n starts `<prefix>:{<prefix>:s<n>}:` and every fleet-global key (clients, API
 * keys, sessions, status pages, maintenance definitions, heartbeats, notifier state)
 * `<prefix>:{<prefix>:g}:`, so each shard, and the global part, is one Cluster hash slot and a
 * script touching one of them runs unchanged on a Redis Cluster. The politeness host keys keep
 * their own `{<host>}` tag. Asset and job ids name their shard (`<random>.<n>`; an id without
 * the marker is shard 0), so a key built from an id lands in its shard without a lookup.
 *
 * Lua scripts receive the keys they touch through KEYS. Where a script must derive a key from
 * data it reads (an index entry for a state it just computed), it receives the *prefix* of that
 * family from here (`…Prefix` below) and appends the documented suffix; those suffixes are
 * listed next to each prefix so both sides stay in step.
 */

export type IndexKind = 'state' | 'plugin' | 'tag';

/** Owner scope used for the fleet-wide indexes that admins list. */
export const ALL_OWNERS = '*';

/** How keys are spread: the number of shards, and whether key names carry Cluster hash tags. */
export interface KeyLayout {
  readonly shards: number;
  /** Hash tags on every key; required on a Redis Cluster and whenever shards > 1. */
  readonly tagged: boolean;
}

/** One shard, names as they always were (a single Redis). */
export const SINGLE_LAYOUT: KeyLayout = Object.freeze({ shards: 1, tagged: false });

/** Largest shard count a deployment may use (shard numbers are part of ids). */
export const MAX_SHARDS = 1024;

const SHARD_MARK = /\.(\d{1,4})$/;

/** Asset, job and client ids: up to 64 id characters, then (asset and job ids of a sharded layout) the shard marker. */
export const ID_PATTERN = '^[A-Za-z0-9_-]{1,64}(\\.[0-9]{1,4})?$';

/** The shard an asset or job id names: its `.<n>` suffix, shard 0 without one (ids made before shards). */
export function shardOfId(id: string): number {
  const m = SHARD_MARK.exec(id);
  return m ? Number(m[1]) : 0;
}

/** The positions of `items` grouped by the shard of each one's id (a script call touches one shard). */
export function byShard<T>(items: readonly T[], idOf: (item: T) => string): Map<number, number[]> {
  const groups = new Map<number, number[]>();
  items.forEach((item, i) => {
    const shard = shardOfId(idOf(item));
    const group = groups.get(shard);
    if (group) group.push(i);
    else groups.set(shard, [i]);
  });
  return groups;
}

/** `id` marked with its shard; unmarked with a single shard, so single-shard ids look as they always did. */
export function markShard(id: string, shard: number, layout: KeyLayout): string {
  return layout.shards > 1 ? `${id}.${shard}` : id;
}

/**
 * The shard of a new asset: a hash (FNV-1a, 32 bits) of its owner and normalised URL, so that
 * one owner's URLs de-duplicate inside one shard while its assets spread over every shard.
 */
export function shardFor(owner: string, normalizedUrl: string, layout: KeyLayout): number {
  if (layout.shards <= 1) return 0;
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(`${owner}\n${normalizedUrl}`)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % layout.shards;
}

/** Keys of one shard: its assets, their indexes, schedule, job queues, statistics and events. */
function shardKeys(p: string) {
  return {
    /**
     * Hash: one asset (see AssetRecord in store/assets.ts; the api also keeps `badgeDigest` there,
     * the SHA-256 of its badge token).
     */
    asset: (id: string) => `${p}asset:${id}`,
    /** Prefix of asset hashes, for scripts that read the asset a job names: `assetPrefix + assetId`. */
    assetPrefix: `${p}asset:`,
    /** Hash: plugin name → JSON of its latest result. */
    assetLatest: (id: string) => `${p}asset:${id}:latest`,
    /** List: raw results of one asset, newest first, compactly encoded (see store/results-codec.ts). */
    assetHistory: (id: string) => `${p}asset:${id}:history`,
    /** Stream: raw results written by earlier versions (job_complete.lua moves them aside; read after the list until they age out). */
    assetHistoryLegacy: (id: string) => `${p}asset:${id}:history:v1`,
    /** String: the roll-up ring of one asset at one resolution (binary cells, see rollup.ts). */
    assetRollup: (id: string, resolution: 'minute' | 'hour' | 'day') => `${p}asset:${id}:rollup:${resolution}`,
    /**
     * Hash: bucket start (s) → JSON roll-up, the format before rings. No longer written; read
     * with the ring until it expires (its TTL is the resolution's retention).
     */
    assetRollupLegacy: (id: string, resolution: 'minute' | 'hour' | 'day') => `${p}asset:${id}:agg:${resolution}`,
    /** Stream: one asset's state transitions (from, to, reason, at). */
    assetEvents: (id: string) => `${p}asset:${id}:events`,
    /** A plugin's own storage for one asset (string or list, plugin-defined). */
    assetPluginData: (id: string, plugin: string, key: string) => `${p}asset:${id}:plugin:${plugin}:${key}`,
    /** Set: names of every assetPluginData key of an asset, so that deleting the asset removes them. */
    assetPluginKeys: (id: string) => `${p}asset:${id}:pluginkeys`,
    /** Hash: normalised URL → asset id, per owner (deduplicates creates). */
    ownerUrls: (owner: string) => `${p}owner:${owner}:urls`,
    /** Sorted set: every asset of an owner, scored by creation sequence. */
    ownerAssets: (owner: string) => `${p}owner:${owner}:assets`,
    /** Sorted set: the owner's assets with one state / plugin / tag, scored like ownerAssets. */
    ownerIndex: (owner: string, kind: IndexKind, value: string) => `${p}owner:${owner}:${kind}:${value}`,
    /** Prefix of an owner's indexes, for scripts: suffix `<kind>:<value>` (see ownerIndex). */
    ownerIndexPrefix: (owner: string) => `${p}owner:${owner}:`,
    /** Sorted set: asset id → next due time (ms) of its scheduled check. */
    schedule: `${p}schedule`,
    /** Hash: scheduled checks skipped, fields `<owner>:late` and `<owner>:pending`, also under ALL_OWNERS (see schedule_claim.lua). */
    checksSkipped: `${p}schedule:skipped`,
    /** String counter: the sequence in scheduled job ids (`s<hex ms>-<n>`, see schedule_claim.lua). */
    jobSeq: `${p}seq:job`,
    /** Hash: one job. */
    job: (id: string) => `${p}job:${id}`,
    /** Prefix of job hashes, for scripts: `jobPrefix + jobId`. */
    jobPrefix: `${p}job:`,
    /** Sorted set: jobs waiting to be claimed, scored by enqueue (or last re-dispatch) time. */
    jobsQueued: `${p}jobs:queued`,
    /** Sorted set: claimed jobs, scored by lease deadline. */
    jobsLeases: `${p}jobs:leases`,
    /** Sorted set: jobs that failed for a system reason, scored by failure time. */
    jobsFailed: `${p}jobs:failed`,
    /** Sorted set: jobs given back to run later (politeness), scored by when to queue them again. */
    jobsDelayed: `${p}jobs:delayed`,
    /** Prefix of fleet statistics, for scripts: suffixes `checks` (hash: minute → checks) and `failures:<day>` (sorted set). */
    statsPrefix: `${p}stats:`,
    /** Hash: minute start (s) → checks completed in that minute, fleet-wide. */
    statsChecks: `${p}stats:checks`,
    /** Sorted set: asset id → failed checks on one day (days since the epoch). */
    statsFailures: (day: number) => `${p}stats:failures:${day}`,
    /**
     * Sorted set: asset id → failed checks on days `day - 1` and `day` (days since the epoch),
     * for one owner or ALL_OWNERS; `/stats` reads the top of today's. For scripts:
     * statsPrefix + `failing:<owner>:<day>` (job_complete.lua adds each failure to two of them).
     */
    statsFailing: (owner: string, day: number) => `${p}stats:failing:${owner}:${day}`,
    /**
     * Sorted set: the assets whose lowercased URL (its first SEARCH_INDEXED_CHARS characters)
     * holds a trigram, scored like ownerAssets; the trigram is hex-encoded (no `{` in key
     * names). Fleet-wide: a tenant's search intersects it with the tenant's ownerAssets.
     */
    searchTrigram: (hexTrigram: string) => `${p}search:tri:${hexTrigram}`,
    /** Sorted set: assets whose URL is longer than what the trigram index covers, scored like ownerAssets. */
    searchLong: `${p}search:long`,
    /** String: set once every asset created before the trigram index existed has been added to it. */
    searchReady: `${p}search:ready`,
    /** Set: ids of the windows this shard's assets' `maintenance` state currently reflects as open (a copy of the global set). */
    maintenanceOpen: `${p}maintenance:open`,
    /** Set: ids of the windows naming one asset id. Prefix for scripts: + `<assetId>`. */
    maintenanceByAssetPrefix: `${p}maintenance:asset:`,
    maintenanceByAsset: (assetId: string) => `${p}maintenance:asset:${assetId}`,
    /** Set: ids of one owner's windows naming one tag. Prefix for scripts: + `<owner>:<tag>`. */
    maintenanceByTagPrefix: `${p}maintenance:tag:`,
    /** Prefix of every owner's indexes, for scripts that read the owner: + `<owner>:` + the ownerIndexPrefix suffix. */
    ownerPrefix: `${p}owner:`,
    /** Stream: asset state transitions. */
    events: `${p}events`,
  } as const;
}

export type ShardKeys = ReturnType<typeof shardKeys>;

/** Keys shared by the whole fleet, in one slot of their own. */
function globalKeys(p: string) {
  return {
    /** String counter: creation sequence of assets (orders listings, stable cursors). */
    assetSeq: `${p}seq:asset`,
    /**
     * Hash: one API key, by the SHA-256 digest of its secret: client, id, name, createdAt,
     * expiresAt, lastUsedAt (ms). Keys made before key records existed are a String → client id
     * until migrated (see ClientStore).
     */
    apiKey: (digest: string) => `${p}apikey:${digest}`,
    /** SCAN pattern matching every apiKey. */
    apiKeyPattern: `${p}apikey:*`,
    /** String: set once keys made before key records have been turned into records (no more scans). */
    apiKeysMigrated: `${p}apikeys:migrated`,
    /** Hash: API key id → digest (finds a key's record from its public id). */
    apiKeyIds: `${p}apikeys`,
    /** Sorted set: a client's API key ids, scored by expiry (ms; +inf for a key that does not expire). */
    clientKeys: (clientId: string) => `${p}client:${clientId}:keys`,
    /** Prefix of @fastify/rate-limit's counters (its Redis store appends `<route>-<client id>`). */
    rateLimitPrefix: `${p}ratelimit:`,
    /** Hash: one client (tenant). */
    client: (id: string) => `${p}client:${id}`,
    /** Set: all client ids. */
    clients: `${p}clients`,
    /** Hash: maintenance window id → JSON window (see store/maintenance.ts). */
    maintenance: `${p}maintenance`,
    /** Hash: maintenance window id → JSON of the window without its asset ids (what reads of state need). */
    maintenanceSummaries: `${p}maintenance:summary`,
    /** Sorted set: one owner's maintenance window ids, scored by creation time (counts against its quota). */
    maintenanceOwned: (owner: string) => `${p}maintenance:owner:${owner}`,
    // --- notifications (packages/notifier) ---------------------------------------------------
    // A delivery *unit* is one channel of one client: `<clientId>` for its channel with the fixed
    // id `webhook` (the /clients/:id/webhook view, keys as before channels existed), else
    // `<clientId>:<channelId>`. outboxDue, reminders and timers name units.
    /** Hash: a client's `webhook` channel (url, secret, routing, enabled, failures, disabledReason, …, lease). */
    webhook: (clientId: string) => `${p}webhook:${clientId}`,
    /** Hash: one channel of a client (type, name, options, routing, status, lease); `webhook` is the hash above. */
    channel: (clientId: string, channelId: string) => (channelId === 'webhook' ? `${p}webhook:${clientId}` : `${p}channel:${clientId}:${channelId}`),
    /** Prefixes of channel hashes, for notify_claim: a unit without ':' → webhookPrefix + unit, else channelPrefix + unit. */
    webhookPrefix: `${p}webhook:`,
    channelPrefix: `${p}channel:`,
    /** Hash: a client's channels other than `webhook`: channel id → name (names are unique per client). */
    channels: (clientId: string) => `${p}channels:${clientId}`,
    /** List: a unit's pending deliveries, oldest first (JSON messages); `outbox(clientId)` is the webhook channel's. */
    outbox: (unit: string) => `${p}outbox:${unit}`,
    /** Sorted set: unit → when its outbox may next be delivered (ms). */
    outboxDue: `${p}outbox:due`,
    /** Sorted set: "<unit>|<assetId>" → next reminder time (ms) while the asset stays down. */
    reminders: `${p}reminders`,
    /** Hash: asset id → the newest events entry id the notifier handled for it (order and exactly-once per asset). */
    notified: `${p}notify:asset`,
    /** Sorted set: "hold|<unit>|<assetId>" (a delayed down) and "esc|<unit>|<assetId>" (an escalation) → due time (ms). */
    notifyTimers: `${p}notify:timers`,
    /** Hash: notifyTimers member → JSON {unit, message} queued when the timer fires. */
    notifyTimerData: `${p}notify:timers:data`,
    /** Consumer group on `events` that turns state changes into deliveries. */
    notifierGroup: 'notifier',
    /** Sorted set: instance id → last heartbeat time, per role. */
    heartbeats: (role: string) => `${p}heartbeats:${role}`,
    /** Hash: instance id → JSON of what it advertises with its heartbeat (see heartbeat.ts). */
    heartbeatInfo: (role: string) => `${p}heartbeats:${role}:info`,
    // --- dashboard (api) ----------------------------------------------------------------------
    /** Hash: one dashboard session, by the SHA-256 of its id (client, admin, csrf, keyDigest); expires (api.sessionTtlSec, sliding). */
    session: (digest: string) => `${p}session:${digest}`,
    /**
     * Hash: status page slug → JSON page (owner, title, description, assetIds, tags, …). The
     * hash tag keeps it in one Cluster slot with statusPagesOwned (status_page_create.lua).
     */
    statusPages: `${p}{statuspages}`,
    /** Set: the slugs of one owner's status pages (counts against the per-owner bound). */
    statusPagesOwned: (owner: string) => `${p}{statuspages}:owner:${owner}`,
    /** Set: ids of the windows marked open (maintenance_mark); each shard keeps a copy its assets are judged by. */
    maintenanceOpen: `${p}maintenance:open`,
    /** String: the id of the dispatcher serving shard n (scheduling, sweeping), with an expiry (shard_lease.lua). */
    shardLease: (shard: number) => `${p}shardlease:${shard}`,
    /** String: the deployment's shard count, written once; a process started with another count refuses to run. */
    layoutKey: `${p}layout`,
  } as const;
}

/**
 * Every key of a deployment. The per-shard collections at the top level (schedule, jobsQueued,
 * ownerAssets, …) are shard 0's, the only shard of a single-shard deployment; code that serves
 * a fleet goes through `shard(n)` for n in `shardIds`. Keys built from an asset or job id
 * (asset, job, assetHistory, …) find the id's shard themselves.
 */
export function createKeys(prefix: string, layout: KeyLayout = SINGLE_LAYOUT) {
  if (!Number.isInteger(layout.shards) || layout.shards < 1 || layout.shards > MAX_SHARDS) throw new Error(`shard count must be 1..${MAX_SHARDS}`);
  if (layout.shards > 1 && !layout.tagged) throw new Error('more than one shard needs tagged keys');
  const base = (tag: string) => (layout.tagged ? `${prefix}:{${prefix}:${tag}}:` : `${prefix}:`);
  const shards = Array.from({ length: layout.shards }, (_, n) => shardKeys(base(`s${n}`)));
  const shard = (n: number): ShardKeys => shards[n] ?? shardKeys(base(`s${n}`));
  const of = (id: string) => shard(shardOfId(id));
  const p = `${prefix}:`;
  return {
    ...shards[0]!,
    ...globalKeys(base('g')),
    prefix,
    layout,
    /** Shard numbers of this deployment, 0..shards-1. */
    shardIds: shards.map((_, n) => n),
    /** The keys of shard n. */
    shard,
    /** The keys of the shard an asset or job id names. */
    shardOf: of,
    asset: (id: string) => of(id).asset(id),
    assetLatest: (id: string) => of(id).assetLatest(id),
    assetHistory: (id: string) => of(id).assetHistory(id),
    assetHistoryLegacy: (id: string) => of(id).assetHistoryLegacy(id),
    assetRollup: (id: string, resolution: 'minute' | 'hour' | 'day') => of(id).assetRollup(id, resolution),
    assetRollupLegacy: (id: string, resolution: 'minute' | 'hour' | 'day') => of(id).assetRollupLegacy(id, resolution),
    assetEvents: (id: string) => of(id).assetEvents(id),
    assetPluginData: (id: string, plugin: string, key: string) => of(id).assetPluginData(id, plugin, key),
    assetPluginKeys: (id: string) => of(id).assetPluginKeys(id),
    maintenanceByAsset: (id: string) => of(id).maintenanceByAsset(id),
    job: (id: string) => of(id).job(id),
    /**
     * String: earliest start time (ms) of the next check of a host, shared by every executor.
     * The host is a hash tag: every key of one host is in one Cluster slot (host_slot.lua).
     */
    hostSlot: (host: string) => `${p}host:{${host}}`,
    /** Sorted set: tenant → the start (ms) reserved for it on a host while it waits its turn (host_slot.lua). */
    hostTurns: (host: string) => `${p}host:{${host}}:turns`,
  } as const;
}

export type Keys = ReturnType<typeof createKeys>;
