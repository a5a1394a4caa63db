/** Notification channels of a client: types, configuration with routing, status, test-send. */
import Type from 'typebox';
import { ids } from '../examples.js';
import { ID, ref } from './common.js';
import { DeliveryStatus } from './webhooks.js';

const Name = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.-]+$', description: 'Unique per client; stable across `webmon apply` runs. `webhook` is reserved.' });
const State = Type.Enum(['unknown', 'up', 'degraded', 'down', 'unsupported', 'paused']);
const Template = Type.Object(
  {
    title: Type.Optional(Type.String({ maxLength: 2000 })),
    text: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  { additionalProperties: false, description: 'Message title and text with {{variables}}: asset, url, state, previous, reason, message, duration, link, tags, client, at.' },
);
const Routing = {
  filters: Type.Optional(
    Type.Object(
      {
        tags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 50, description: 'Assets with any of these tags.' })),
        states: Type.Optional(Type.Array(State, { maxItems: 6, description: 'Changes to these states.' })),
        minSeverity: Type.Optional(Type.Enum(['degraded', 'down'], { description: 'Changes from or to at least this state.' })),
        plugins: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 50, description: 'Changes caused by one of these plugins (when known).' })),
      },
      { additionalProperties: false },
    ),
  ),
  delaySec: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 86_400 }), Type.Null()], { description: 'Notify a down only if still down after this long; a shorter flap sends nothing.' })),
  escalation: Type.Optional(
    Type.Union([
      Type.Object({ afterSec: Type.Integer({ minimum: 1, maximum: 604_800 }), channelId: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false }),
      Type.Null(),
    ], { description: 'Another channel of the client gets an escalation message when an outage outlasts afterSec.' }),
  ),
  digestSec: Type.Optional(Type.Union([Type.Integer({ minimum: 10, maximum: 86_400 }), Type.Null()], { description: 'Digest channels only: one message with the changes of this many seconds.' })),
  template: Type.Optional(Type.Union([Template, Type.Null()])),
  remindEverySec: Type.Optional(Type.Union([Type.Integer({ minimum: 60, maximum: 604_800 }), Type.Null()], { description: 'Remind while an asset stays down.' })),
};

export const ChannelInput = Type.Object(
  {
    name: Name,
    type: Type.String({ minLength: 1, maxLength: 64, description: 'A channel type of GET /channels.' }),
    options: Type.Record(Type.String(), Type.Unknown(), { description: 'Options of the type (its optionsSchema). Secret options are write-only: "[redacted]" or leaving one out keeps the stored value.' }),
    ...Routing,
  },
  { additionalProperties: false, $id: 'ChannelInput' },
);

export const ChannelCreate = Type.Object(
  { ...ChannelInput.properties, test: Type.Optional(Type.Boolean({ default: false, description: 'Test-send a message right after creating it; the answer carries the outcome.' })) },
  { additionalProperties: false, $id: 'ChannelCreate' },
);

const Outcome = Type.Object(
  {
    outcome: Type.Enum(['delivered', 'retry', 'rejected']),
    reason: Type.Optional(Type.String()),
    retryAfterMs: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  },
  { description: 'How the service took the message: delivered, retry (a temporary failure), rejected (permanent).' },
);
export const TestResult = Type.Object({ channelId: Type.String(), result: Outcome }, { $id: 'ChannelTestResult' });

export const Channel = Type.Object(
  {
    id: Type.String(),
    clientId: Type.String(),
    name: Type.String(),
    type: Type.String(),
    options: Type.Record(Type.String(), Type.Unknown(), { description: 'Secrets read "[redacted]".' }),
    secretOptions: Type.Array(Type.String()),
    filters: Type.Record(Type.String(), Type.Unknown()),
    delaySec: Type.Union([Type.Integer(), Type.Null()]),
    escalation: Type.Union([Type.Object({ afterSec: Type.Integer(), channelId: Type.String() }), Type.Null()]),
    digestSec: Type.Union([Type.Integer(), Type.Null()]),
    template: Type.Union([Type.Object({ title: Type.Optional(Type.String()), text: Type.Optional(Type.String()) }), Type.Null()]),
    remindEverySec: Type.Union([Type.Number(), Type.Null()]),
    ...DeliveryStatus,
    createdAt: Type.String(),
    updatedAt: Type.String(),
    test: Type.Optional(Outcome),
  },
  { $id: 'Channel', description: 'A notification channel with its delivery status (secrets are never shown).' },
);

export const ChannelList = Type.Object({ channels: Type.Array(ref(Channel)) }, { $id: 'ChannelList' });

export const ChannelType = Type.Object(
  {
    name: Type.String(),
    description: Type.String(),
    secretOptions: Type.Array(Type.String()),
    digest: Type.Boolean(),
    optionsSchema: Type.Unknown(),
    defaults: Type.Record(Type.String(), Type.Unknown()),
  },
  { $id: 'ChannelType' },
);
export const ChannelTypeList = Type.Object({ channels: Type.Array(ref(ChannelType)) }, { $id: 'ChannelTypeList' });

const ChannelIdString = Type.String({ pattern: ID, examples: ['k3Jd9sQ2'] });
export const ClientChannelId = Type.Object({ id: Type.String({ pattern: ID, examples: [ids.client] }), channelId: ChannelIdString });
export const ChannelIdParam = Type.Object({ channelId: ChannelIdString });
