/**
 * Digests through the channel host: an email channel with digestSec gets the changes of its
 * window in one send(), and a local SMTP server (the `smtp-server` package) records one mail
 * listing them in order.
 */
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { afterEach, describe, expect, it } from 'vitest';
import { emailChannel } from '@webmon/channel-email';
import { ChannelRegistry, defineChannel, type ChannelMessage } from '@webmon/plugin-sdk';
import { FAST, harness, loopbackEgress, sleep, until, type Harness } from '../test/harness.js';
import { ChannelStore } from './channels.js';
import { startNotifier } from './notifier.js';

/** A plain SMTP server on 127.0.0.1 (no TLS, no AUTH) keeping every mail, parsed. */
async function smtpRecorder(): Promise<{ port: number; mails: ParsedMail[]; close(): Promise<void> }> {
  const mails: ParsedMail[] = [];
  const server = new SMTPServer({
    logger: false,
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    onData(stream, _session, callback) {
      simpleParser(stream).then(
        (mail) => {
          mails.push(mail);
          callback();
        },
        (err: Error) => callback(err),
      );
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return { port, mails, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

let h: Harness | undefined;
let smtp: Awaited<ReturnType<typeof smtpRecorder>> | undefined;
afterEach(async () => {
  await h?.close();
  await smtp?.close();
  h = undefined;
  smtp = undefined;
});

describe('digest', () => {
  it('an email channel with digestSec gets one send() with the window\'s changes and sends one mail listing them', async () => {
    h = await harness('ch-digest');
    smtp = await smtpRecorder();
    const sends: ChannelMessage[][] = [];
    const counted = defineChannel({
      ...emailChannel,
      send(messages, options, ctx) {
        sends.push([...messages]);
        return emailChannel.send(messages, options, ctx);
      },
    });
    const registry = new ChannelRegistry([counted]);
    const egress = loopbackEgress(h.t.redis, h.t.keys);
    const store = new ChannelStore(h.t.redis, h.t.keys, registry, { egress });
    await store.create('acme', { name: 'mail', type: 'email', options: { host: '127.0.0.1', port: smtp.port, security: 'none', from: 'webmon@example.org', to: ['ops@example.org'] }, digestSec: 1 });
    const shop = await h.asset('acme', 'https://shop.example.com/');
    const blog = await h.asset('acme', 'https://blog.example.com/');
    const n = await startNotifier({ redis: h.t.redis, keys: h.t.keys, log: h.log, consumer: 'digest', options: FAST, egress, channels: registry });
    const close = h.close;
    h.close = async () => {
      await n.stop();
      await close();
    };
    await h.emit(shop, 'acme', 'up', 'down');
    await h.emit(blog, 'acme', 'up', 'down');
    await h.emit(shop, 'acme', 'down', 'up');
    await until(() => smtp!.mails.length >= 1, 5000, 'the digest mail');
    await sleep(300); // nothing else may follow
    expect(sends.map((m) => m.length)).toEqual([3]);
    expect(sends[0]!.map((m) => `${m.asset.url} ${m.to}`)).toEqual(['https://shop.example.com/ down', 'https://blog.example.com/ down', 'https://shop.example.com/ up']);
    expect(smtp.mails).toHaveLength(1);
    const mail = smtp.mails[0]!;
    expect(mail.subject).toBe('[webmon] 3 changes: 2 DOWN, 1 UP');
    const text = mail.text ?? '';
    const at = ['shop.example.com/ is down', 'blog.example.com/ is down', 'shop.example.com/ is up'].map((s) => text.indexOf(s));
    expect(at.every((i) => i >= 0), text).toBe(true);
    expect([...at].sort((x, y) => x - y)).toEqual(at);
    expect(mail.html).toEqual(expect.stringContaining('blog.example.com'));
  });
});
