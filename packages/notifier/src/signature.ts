/** Webhook signatures live with the webhook channel (plugins/channel-webhook); re-exported for receivers and tests. */
export {
  DELIVERY_HEADER,
  SIGNATURE_HEADER,
  WEBHOOK_ID_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_TIMESTAMP_HEADER,
  signPayload,
  signStandard,
  standardSigningKey,
  standardWebhookHeaders,
  standardWebhookSecret,
  verifySignature,
} from '@webmon/plugin-channel-webhook';
