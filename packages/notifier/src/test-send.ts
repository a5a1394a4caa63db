/** Test-sending: one `test` message through a channel now, outside its outbox (POST /channels/:id/test). */
import type { Logger } from '@webmon/core';
import { createChannelContext, type ChannelAgents, type SendOutcome } from '@webmon/plugin-sdk';
import type { ChannelRecord } from './channel-record.js';
import type { ChannelStore } from './channels.js';
import { assetLink, testMessage } from './message.js';
import { notInstalled, sendMessages } from './send.js';

export interface TestSendOptions {
  agents: ChannelAgents;
  log: Logger;
  timeoutMs?: number;
  userAgent?: string;
  publicUrl?: string;
}

/**
 * Sends a test message through `channel` synchronously and answers the outcome (a throw or a
 * refused address is a `retry` outcome with its reason; see sendMessages). Nothing is queued or
 * counted: the channel's status is untouched. An outcome other than delivered is logged (info).
 */
export async function sendTest(store: ChannelStore, channel: ChannelRecord, o: TestSendOptions): Promise<SendOutcome> {
  const plugin = store.registry.get(channel.type);
  if (!plugin) return notInstalled(channel.type);
  const { guard } = await store.egress.forOwner(channel.clientId);
  const ctx = createChannelContext({ agents: o.agents, egress: guard, timeoutMs: o.timeoutMs ?? 10_000, log: o.log, userAgent: o.userAgent ?? 'webmon-notifier/0.1' });
  const message = testMessage(channel, Date.now(), assetLink(o.publicUrl ?? '', 'test'));
  const outcome = await sendMessages(plugin, channel.options, [message], ctx);
  if (outcome.outcome !== 'delivered') o.log.info({ clientId: channel.clientId, channelId: channel.id, type: channel.type, outcome: outcome.outcome, err: outcome.reason }, 'test message not delivered');
  return outcome;
}
