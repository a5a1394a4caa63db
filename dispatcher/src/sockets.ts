/**
 * The dispatcher's sockets and how they authenticate: ZAP on every socket (ZMTP 3 only; CURVE
 * with allowed keys when configured, see zap.ts), and ZMQ_MAXMSGSIZE = zmq.maxMessageBytes, so a
 * peer sending a larger message is disconnected before the message is buffered.
 */
import { Pull, Push } from 'zeromq';
import { curveServerOptions, type Config, type Logger } from '@webmon/core';
import { registerZap, type ZapRegistration } from './zap.js';

export interface DispatcherSockets {
  zap: ZapRegistration;
  /** Options every dispatcher socket is made with (the control channel's too). */
  secure: ReturnType<typeof socketOptions>;
  frontend: Pull;
  backend: Push;
}

/** Registers the ZAP handler and binds the frontend and backend; nothing stays open on failure. */
export async function openSockets(config: Readonly<Config>, log: Logger): Promise<DispatcherSockets> {
  const zap = await registerZap(zapAdmission(config), log);
  const secure = socketOptions(config, zap);
  const frontend = new Pull({ receiveHighWaterMark: 100_000, linger: 0, ...secure });
  const backend = new Push({ sendHighWaterMark: config.dispatcher.backendHighWaterMark, linger: 0, ...secure });
  try {
    await frontend.bind(config.zmq.frontend);
    await backend.bind(config.zmq.backend);
  } catch (err) {
    frontend.close();
    backend.close();
    await zap.close();
    throw err;
  }
  return { zap, secure, frontend, backend };
}

/** Who the ZAP handler admits: CURVE clients with allowed keys, or NULL when CURVE is off. */
function zapAdmission(config: Readonly<Config>) {
  const curve = config.zmq.curve;
  return curve.serverSecretKey ? { curveKeys: [curve.serverPublicKey!, ...curve.allowedClientKeys], allowNull: false } : { curveKeys: [], allowNull: true };
}

/**
 * Options of every dispatcher socket. The ZAP domain makes libzmq refuse ZMTP 1.0/2.0 peers and
 * ask the handler about everyone else; zapEnforceDomain refuses NULL peers too should the
 * handler be missing.
 */
function socketOptions(config: Readonly<Config>, zap: ZapRegistration) {
  return { ...curveServerOptions(config), zapDomain: zap.domain, zapEnforceDomain: true, maxMessageSize: config.zmq.maxMessageBytes };
}
