/** A client's webhook: where state changes are POSTed. */
import Type from 'typebox';

export const WebhookInput = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: 2048, description: 'http(s) URL that receives POSTed JSON.' }),
    secret: Type.Optional(Type.String({ minLength: 16, maxLength: 512, description: 'HMAC-SHA256 key for x-webmon-signature. Required the first time; kept when omitted later. Never shown again.' })),
    remindEverySec: Type.Optional(Type.Union([Type.Integer({ minimum: 60, maximum: 604_800 }), Type.Null()], { description: 'Remind while an asset stays down (null: never).' })),
  },
  { additionalProperties: false, $id: 'WebhookInput' },
);

export const WebhookEnable = Type.Object({ dropPending: Type.Boolean({ default: false }) }, { additionalProperties: false, $id: 'WebhookEnable' });

const MaybeText = Type.Union([Type.String(), Type.Null()]);

/** The delivery status of a webhook or channel. */
export const DeliveryStatus = {
    enabled: Type.Boolean(),
    failures: Type.Integer(),
    disabledReason: MaybeText,
    disabledAt: MaybeText,
    lastDeliveryAt: MaybeText,
    lastError: MaybeText,
    lastErrorAt: MaybeText,
    nextAttemptAt: MaybeText,
    pending: Type.Integer(),
    delivered: Type.Integer(),
    dropped: Type.Integer(),
};

export const Webhook = Type.Object(
  {
    clientId: Type.String(),
    url: Type.String(),
    secretSet: Type.Boolean(),
    remindEverySec: Type.Union([Type.Integer(), Type.Null()]),
    ...DeliveryStatus,
    createdAt: Type.String(),
    updatedAt: Type.String(),
  },
  { $id: 'Webhook', description: 'A webhook and its delivery status (the secret is never shown).' },
);
