/**
 * A client's notification channels: create, replace, list, remove, re-enable, test-send. Options
 * are validated by the channel type's schema (ChannelRegistry), secrets are write-only (shown as
 * "[redacted]"; saving "[redacted]" or leaving a secret out keeps the stored one), and every URL
 * in the options must be allowed by the owner's egress guard by name or literal (addresses are
 * judged again when a delivery connects).
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { WebmonError, iso, type EgressGuard, type Keys, type OwnerEgress, type SchemaProblem } from '@webmon/core';
import type { ChannelRegistry } from '@webmon/plugin-sdk';
import { MAX_CHANNELS, WEBHOOK_CHANNEL_ID, parseChannel, presentStatus, unitOf, type ChannelRecord, type ChannelRouting, type ChannelStatus } from './channel-record.js';
import { notifierScripts, type NotifierScripts } from './scripts.js';
import { templateProblems } from './templates.js';
import { defaultOwnerEgress, webhookHost } from './webhooks.js';

export interface ChannelInput extends Partial<Omit<ChannelRouting, 'filters'>> {
  name: string;
  type: string;
  options: Record<string, unknown>;
  filters?: ChannelRouting['filters'] | undefined;
}

/** A channel as the API shows it: secrets redacted, with its delivery status. */
export interface ChannelView extends ChannelRouting, ChannelStatus {
  id: string;
  clientId: string;
  name: string;
  type: string;
  options: Record<string, unknown>;
  /** Names of the options that are secrets (their values read "[redacted]"). */
  secretOptions: string[];
  createdAt: string;
  updatedAt: string;
}

export interface ChannelStoreOptions {
  egress?: OwnerEgress;
  /** Smallest remindEverySec accepted (default 60; tests use fractions of a second). */
  minRemindEverySec?: number;
}

const invalid = (problems: SchemaProblem[]) => new WebmonError('WEBMON_ERR_VALIDATION', `invalid channel: ${problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`, problems);
export const channelNotFound = (clientId: string, id: string) => new WebmonError('WEBMON_ERR_CHANNEL_NOT_FOUND', `client ${clientId} has no channel ${id}`);

export class ChannelStore {
  private readonly scripts: NotifierScripts;
  readonly egress: OwnerEgress;
  private readonly minRemindEverySec: number;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    readonly registry: ChannelRegistry,
    options: ChannelStoreOptions = {},
  ) {
    this.scripts = notifierScripts(redis);
    this.egress = options.egress ?? defaultOwnerEgress(redis, keys);
    this.minRemindEverySec = options.minRemindEverySec ?? 60;
  }

  /** Every channel of a client with its secrets (for the notifier), the webhook channel first. */
  async records(clientId: string): Promise<ChannelRecord[]> {
    const ids = Object.keys(await this.redis.hgetall(this.keys.channels(clientId)));
    const all = [WEBHOOK_CHANNEL_ID, ...ids.filter((id) => id !== WEBHOOK_CHANNEL_ID)];
    const pipe = this.redis.pipeline();
    for (const id of all) pipe.hgetall(this.keys.channel(clientId, id));
    const res = (await pipe.exec()) ?? [];
    const out: ChannelRecord[] = [];
    res.forEach(([err, h], i) => {
      if (err) throw err;
      const rec = parseChannel(clientId, all[i]!, h as Record<string, string>);
      if (rec) out.push(rec);
    });
    return out;
  }

  async record(clientId: string, id: string): Promise<ChannelRecord | null> {
    return parseChannel(clientId, id, await this.redis.hgetall(this.keys.channel(clientId, id)));
  }

  async list(clientId: string): Promise<ChannelView[]> {
    const recs = await this.records(clientId);
    const pipe = this.redis.pipeline();
    for (const r of recs) pipe.llen(this.keys.outbox(r.unit));
    const lens = ((await pipe.exec()) ?? []).map(([, n]) => Number(n ?? 0));
    return recs.map((r, i) => this.present(r, lens[i]!));
  }

  async get(clientId: string, id: string): Promise<ChannelView | null> {
    const rec = await this.record(clientId, id);
    return rec ? this.present(rec, await this.redis.llen(this.keys.outbox(rec.unit))) : null;
  }

  /** The id of the client's channel with this name, or null. */
  async idByName(clientId: string, name: string): Promise<string | null> {
    if (name === WEBHOOK_CHANNEL_ID) return (await this.redis.exists(this.keys.webhook(clientId))) ? WEBHOOK_CHANNEL_ID : null;
    const all = await this.redis.hgetall(this.keys.channels(clientId));
    return Object.entries(all).find(([, n]) => n === name)?.[0] ?? null;
  }

  /** Creates a channel (a new id). Throws WEBMON_ERR_VALIDATION, _CHANNEL_LIMIT, _CHANNEL_NAME_TAKEN. */
  async create(clientId: string, input: ChannelInput): Promise<ChannelView> {
    if (input.name === WEBHOOK_CHANNEL_ID) throw invalid([{ field: 'name', message: '"webhook" is the name of the channel of /clients/:id/webhook; choose another' }]);
    const id = randomBytes(6).toString('base64url').replace(/^[-_]/, 'c');
    return this.save(clientId, id, input, 'create');
  }

  /** Replaces a channel's configuration (its status is kept). Throws as create, and WEBMON_ERR_CHANNEL_NOT_FOUND. */
  async update(clientId: string, id: string, input: ChannelInput): Promise<ChannelView> {
    return this.save(clientId, id, input, 'update');
  }

  /** Saves `input` as channel `id`; `upsert` creates it when missing (the webhook view). */
  async save(clientId: string, id: string, input: ChannelInput, mode: 'create' | 'update' | 'upsert', now = Date.now()): Promise<ChannelView> {
    const stored = mode === 'create' ? null : await this.record(clientId, id);
    if (mode === 'update' && !stored) throw channelNotFound(clientId, id);
    if (stored && id === WEBHOOK_CHANNEL_ID && input.type !== 'webhook') throw invalid([{ field: 'type', message: 'the webhook channel is of type webhook' }]);
    const options = this.registry.restoreSecrets(input.type, input.options ?? {}, stored?.type === input.type ? stored.options : undefined);
    const checked = await this.validate(clientId, id, { ...input, options });
    const fields = this.fields(id, input, checked);
    const deletes = input.remindEverySec == null ? ['remindEverySec'] : [];
    const res = await this.scripts.run<number>(
      'notify_channel_set',
      [this.keys.channel(clientId, id), this.keys.channels(clientId), this.keys.webhook(clientId)],
      [now, id, id === WEBHOOK_CHANNEL_ID ? '' : input.name, MAX_CHANNELS, id === WEBHOOK_CHANNEL_ID ? 'secret' : '', mode, fields.length / 2, ...fields, ...deletes],
    );
    if (res === 0) throw invalid([{ field: 'options.secret', message: 'required for a new webhook' }]);
    if (res === -1) throw new WebmonError('WEBMON_ERR_CHANNEL_LIMIT', `client ${clientId} has ${MAX_CHANNELS} channels, the most allowed; remove one first`);
    if (res === -2) throw new WebmonError('WEBMON_ERR_CHANNEL_NAME_TAKEN', `client ${clientId} already has a channel named ${input.name}`);
    if (res === -3) throw channelNotFound(clientId, id);
    if (res === -4) throw new WebmonError('WEBMON_ERR_CONFLICT', 'channel id collision; retry');
    const view = await this.get(clientId, id);
    if (!view) throw new WebmonError('WEBMON_ERR_CONFLICT', `channel ${id} of client ${clientId} was deleted concurrently; retry`);
    return view;
  }

  private fields(id: string, input: ChannelInput, options: Record<string, unknown>): string[] {
    const routing: Omit<ChannelRouting, 'remindEverySec'> = {
      filters: input.filters ?? {},
      delaySec: input.delaySec ?? null,
      escalation: input.escalation ?? null,
      digestSec: input.digestSec ?? null,
      template: input.template ?? null,
    };
    const out = ['routing', JSON.stringify(routing)];
    if (id === WEBHOOK_CHANNEL_ID) {
      out.push('url', String(options.url));
      if (typeof options.secret === 'string' && options.secret !== '') out.push('secret', options.secret);
    } else out.push('type', input.type, 'name', input.name, 'options', JSON.stringify(options));
    if (input.remindEverySec != null) out.push('remindEverySec', String(input.remindEverySec));
    return out;
  }

  /** The options with defaults, or throws WEBMON_ERR_VALIDATION naming every problem. */
  private async validate(clientId: string, id: string, input: ChannelInput): Promise<Record<string, unknown>> {
    const problems: SchemaProblem[] = [];
    const isNewWebhook = id === WEBHOOK_CHANNEL_ID && input.options.secret === undefined;
    const opts = isNewWebhook ? { ...input.options, secret: 'x'.repeat(16) } : input.options;
    const v = this.registry.validate(input.type, opts);
    if (!v.ok) problems.push(...v.problems);
    for (const name of this.registry.redactedSecrets(input.type, input.options)) problems.push({ field: `options.${name}`, message: 'required: send the secret itself (a stored one is kept only while the options that say where it is sent are unchanged)' });
    const { guard } = await this.egress.forOwner(clientId);
    problems.push(...urlProblems(input.options, guard), ...templateProblems(input.template), ...(await this.routingProblems(clientId, id, input)));
    if (problems.length) throw invalid(problems);
    const value = (v as { value: Record<string, unknown> }).value;
    if (isNewWebhook) delete value.secret;
    return value;
  }

  private async routingProblems(clientId: string, id: string, input: ChannelInput): Promise<SchemaProblem[]> {
    const out: SchemaProblem[] = [];
    const r = input.remindEverySec;
    if (r != null && (!Number.isFinite(r) || r < this.minRemindEverySec || r > 7 * 86_400)) out.push({ field: 'remindEverySec', message: `between ${this.minRemindEverySec} and 604800 seconds` });
    if (input.digestSec != null && this.registry.get(input.type) && !this.registry.get(input.type)!.digest) out.push({ field: 'digestSec', message: `channel type ${input.type} does not send digests` });
    const esc = input.escalation;
    if (esc) {
      if (esc.channelId === id) out.push({ field: 'escalation.channelId', message: 'a channel cannot escalate to itself' });
      else if (!(await this.redis.exists(this.keys.channel(clientId, esc.channelId)))) out.push({ field: 'escalation.channelId', message: `client ${clientId} has no channel ${esc.channelId}` });
    }
    return out;
  }

  /** Removes a channel with its pending deliveries. True when there was one. */
  async delete(clientId: string, id: string): Promise<boolean> {
    const unit = unitOf(clientId, id);
    const res = await this.redis.multi().del(this.keys.channel(clientId, id)).del(this.keys.outbox(unit)).zrem(this.keys.outboxDue, unit).hdel(this.keys.channels(clientId), id).exec();
    if (!res) throw new Error('transaction aborted');
    const [err, n] = res[0]!;
    if (err) throw err;
    return n === 1;
  }

  /** Removes every channel of a client (the client is being removed). */
  async deleteAll(clientId: string): Promise<void> {
    const ids = Object.keys(await this.redis.hgetall(this.keys.channels(clientId)));
    for (const id of [WEBHOOK_CHANNEL_ID, ...ids]) await this.delete(clientId, id);
    await this.redis.del(this.keys.channels(clientId));
  }

  /**
   * Re-enables a channel (after the automatic disable, or to retry at once): resets the failure
   * streak, clears disabledReason/disabledAt and makes pending deliveries due now; with
   * dropPending, discards them first. Null without such a channel.
   */
  async enable(clientId: string, id: string, opts: { dropPending?: boolean } = {}, now = Date.now()): Promise<ChannelView | null> {
    const unit = unitOf(clientId, id);
    const res = await this.scripts.run<number>('notify_enable', [this.keys.channel(clientId, id), this.keys.outbox(unit), this.keys.outboxDue], [now, unit, opts.dropPending ? '1' : '0']);
    if (res < 0) return null;
    return this.get(clientId, id);
  }

  present(r: ChannelRecord, pending: number): ChannelView {
    return {
      id: r.id,
      clientId: r.clientId,
      name: r.name,
      type: r.type,
      options: this.registry.redact(r.type, r.options),
      secretOptions: [...(this.registry.get(r.type)?.secretOptions ?? Object.keys(r.options))],
      filters: r.filters,
      delaySec: r.delaySec,
      escalation: r.escalation,
      digestSec: r.digestSec,
      template: r.template,
      remindEverySec: r.remindEverySec,
      createdAt: iso(r.createdAt),
      updatedAt: iso(r.updatedAt),
      ...presentStatus(r, pending),
    };
  }
}

/** Every string option that is an http(s) URL must have a host the owner's guard allows (by name or literal). */
function urlProblems(options: Record<string, unknown>, guard: EgressGuard): SchemaProblem[] {
  const out: SchemaProblem[] = [];
  for (const [name, v] of Object.entries(options)) {
    if (typeof v !== 'string' || !/^https?:\/\//i.test(v)) continue;
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      out.push({ field: `options.${name}`, message: 'not a valid URL' });
      continue;
    }
    const denied = guard.judgeHost(webhookHost(u));
    if (denied) out.push({ field: `options.${name}`, message: `host not allowed: ${denied}` });
  }
  return out;
}
