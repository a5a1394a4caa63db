/** The dashboard's own routes: sessions, snapshots, status pages (private and public) and badges. */
import Type, { type Static } from 'typebox';
import { ASSET_STATES } from '@webmon/core';
import { ID, MaybeTime, TAG_PATTERN, Time, ref } from './common.js';
import { Whoami } from './clients.js';

export const SessionInput = Type.Object(
  { key: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: 'An API key (the admin key or a client key); it is not kept. Default: the bearer token.' })) },
  { additionalProperties: false, $id: 'SessionInput', description: 'Sign in to the dashboard with an API key.' },
);

export const SessionInfo = Type.Object(
  {
    principal: ref(Whoami),
    csrfToken: Type.String({ description: 'Send it as the header x-webmon-csrf with every signed-in request other than GET, HEAD, OPTIONS.' }),
    expiresAt: Time,
  },
  { $id: 'SessionInfo', description: 'The signed-in session: who it acts for, its CSRF token, and when it ends unless used (each request extends it).' },
);

export const SignedOut = Type.Object({ signedOut: Type.Literal(true) }, { $id: 'SignedOut', description: 'The session is ended and its cookie cleared.' });

export const SnapshotStatus = Type.Object(
  {
    lastSaveAt: MaybeTime,
    lastOk: Type.Boolean({ description: 'Whether the last background save succeeded.' }),
    inProgress: Type.Boolean(),
    via: Type.Optional(
      Type.Enum(['dispatcher', 'api'], {
        description: 'POST: who had Redis save: the dispatcher (control channel), or this api when no dispatcher answered there.',
      }),
    ),
  },
  { $id: 'SnapshotStatus', description: "Redis's RDB snapshots: the last save and whether one is running." },
);

export const StateChange = Type.Object(
  {
    id: Type.String({ description: 'Entry id in the events stream (`<ms>-<seq>`), as `GET /events/stream` sends it.' }),
    assetId: Type.String(),
    from: Type.String(),
    to: Type.String(),
    reason: Type.String(),
    at: Time,
  },
  { $id: 'StateChange', description: 'One state change of an asset.' },
);

export const StateChangeList = Type.Object(
  { items: Type.Array(ref(StateChange), { description: 'Newest first.' }) },
  { $id: 'StateChangeList', description: 'The latest state changes of your assets (the admin: of all).' },
);

export const RecentChangesQuery = Type.Object(
  { limit: Type.Integer({ minimum: 1, maximum: 100, default: 20, description: 'How many, newest first.' }) },
  { additionalProperties: false },
);

export const SLUG = '^[a-z0-9][a-z0-9-]{1,62}$';
const AssetIds = Type.Array(Type.String({ pattern: ID }), { maxItems: 200, uniqueItems: true, description: 'Assets of yours shown on the page.' });
const Tags = Type.Array(Type.String({ pattern: TAG_PATTERN }), { maxItems: 20, uniqueItems: true, description: 'Your assets with any of these tags are shown too.' });
const Title = Type.String({ minLength: 1, maxLength: 120 });
const Description = Type.String({ maxLength: 2000 });

export const StatusPageInput = Type.Object(
  { slug: Type.String({ pattern: SLUG, description: 'The page is public at /status/<slug>; unique across the install.' }), title: Title, description: Type.Optional(Description), assetIds: Type.Optional(AssetIds), tags: Type.Optional(Tags) },
  { additionalProperties: false, $id: 'StatusPageInput', description: 'A public status page: the assets it shows, chosen by id and by tag.' },
);
export type StatusPageInput = Static<typeof StatusPageInput>;

export const StatusPagePatch = Type.Object(
  { title: Type.Optional(Title), description: Type.Optional(Description), assetIds: Type.Optional(AssetIds), tags: Type.Optional(Tags) },
  { additionalProperties: false, minProperties: 1, $id: 'StatusPagePatch', description: 'The fields to change; the others are kept.' },
);

export const StatusPageOut = Type.Object(
  {
    slug: Type.String(),
    owner: Type.String(),
    title: Type.String(),
    description: Type.String(),
    assetIds: Type.Array(Type.String()),
    tags: Type.Array(Type.String()),
    path: Type.String({ description: 'Where the page is public (no key): /status/<slug>; its data: /public/status/<slug>.' }),
    createdAt: Time,
    updatedAt: Time,
  },
  { $id: 'StatusPage', description: 'A status page as its owner sees it.' },
);

export const StatusPageList = Type.Object({ items: Type.Array(ref(StatusPageOut)) }, { $id: 'StatusPageList' });

export const UptimeDay = Type.Object(
  { day: Type.String({ description: 'YYYY-MM-DD (UTC).' }), uptimePercent: Type.Union([Type.Number(), Type.Null()]), checks: Type.Integer() },
  { $id: 'UptimeDay', description: 'One day of an asset: its uptime (null: no known state that day) and the checks run.' },
);

export const PublicAsset = Type.Object(
  {
    id: Type.String(),
    name: Type.String({ description: 'Host and path of the URL, without credentials, query or options.' }),
    state: Type.Enum(ASSET_STATES),
    uptimeDays: Type.Array(ref(UptimeDay), { description: 'The last 90 days, oldest first.' }),
    uptime90dPercent: Type.Union([Type.Number(), Type.Null()]),
  },
  { $id: 'PublicAsset', description: 'An asset as a public status page shows it.' },
);

export const PublicMaintenance = Type.Object(
  { title: Type.String(), from: Time, to: Time },
  { $id: 'PublicMaintenance', description: 'A maintenance window open now or opening within 7 days (its next or current occurrence).' },
);

export const PublicStatus = Type.Object(
  {
    title: Type.String(),
    description: Type.String(),
    updatedAt: Time,
    assets: Type.Array(ref(PublicAsset)),
    maintenance: Type.Array(ref(PublicMaintenance)),
  },
  { $id: 'PublicStatus', description: 'What a public status page shows; nothing else of the owner is exposed.' },
);

export const Stats24h = Type.Object(
  { uptimePercent: Type.Union([Type.Number(), Type.Null()]), p95Ms: Type.Union([Type.Number(), Type.Null()]) },
  { $id: 'Stats24h', description: 'Uptime and p95 latency (all plugins) over the last 24 hours (hourly roll-ups).' },
);

export const BadgeToken = Type.Object({ token: Type.String() }, { $id: 'BadgeToken', description: "The asset's badge token (replaces any earlier one): pass it as ?token= on /badge/<asset id>/…" });

export const StatusSlug = Type.Object({ slug: Type.String({ pattern: SLUG, examples: ['acme'] }) });

export const BadgeParams = Type.Object({
  id: Type.String({ pattern: ID, examples: ['acme'], description: 'An asset id or a status page slug.' }),
  file: Type.Enum(['state.svg', 'uptime.svg', 'latency.svg'], { examples: ['state.svg'] }),
});

export const BadgeQuery = Type.Object(
  {
    window: Type.Enum(['24h', '7d', '30d', '90d'], { default: '24h', description: 'For uptime and latency.' }),
    token: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: "The asset's badge token, for an asset on no status page." })),
  },
  { additionalProperties: false },
);
