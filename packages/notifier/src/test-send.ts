/** Test-sending: one `test` message through a channel now, outside its outbox (POST /channels/:id/test). */
import type { Logger } from '@webmon/core';
import { createChannelContext, type ChannelAgents, type SendOutcome } from '@webmon/plugin-sdk';
import type { ChannelRecord } from './channel-record.js';
import type { ChannelStore } from './channels.js';
import { errorText } from './errors.js';
import { assetLink, testMessage } from './message.js';

export interface TestSendOptions {
  agents: ChannelAgents;
  log: Logger;
  timeoutMs?: number;
  userAgent?: string;
  publicUrl?: string;
}

/**
 * Sends a test message through `channel` synchronously and answers the outcome (a throw or a
 * refused address is a `retry` outcome with its reason). Nothing is queued or counted: the
 * channel's status is untouched.
 */
export async function sendTest(store: ChannelStore, channel: ChannelRecord, o: TestSendOptions): Promise<SendOutcome> {
  const plugin = store.registry.get(channel.type);
  if (!plugin) return { outcome: 'retry', reason: `channel type ${channel.type} is not installed`, retryAfterMs: null };
  const { guard } = await store.egress.forOwner(channel.clientId);
  const ctx = createChannelContext({ agents: o.agents, egress: guard, timeoutMs: o.timeoutMs ?? 10_000, log: o.log, userAgent: o.userAgent ?? 'webmon-notifier/0.1' });
  const message = testMessage(channel, Date.now(), assetLink(o.publicUrl ?? '', 'test'));
  try {
    return await plugin.send([message], channel.options, ctx);
  } catch (err) {
    const text = errorText(err);
    return { outcome: 'retry', reason: text.startsWith('denied: ') || text === 'timeout' ? text : `plugin_error: ${text}`, retryAfterMs: null };
  }
}
