/** What one check talks to, taken from the asset's URL and options: host, port, TLS mode, path, login. */
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import type { EgressGuard } from '@webmon/plugin-sdk';
import type { FtpConfig } from './options.js';

/** Default ports: ftp:// 21, ftps:// (implicit TLS) 990. */
const DEFAULT_PORTS: Record<string, number> = { ftp: 21, ftps: 990 };
/** Password sent for an anonymous login without one (RFC 1635 asks for an e-mail-like string). */
const ANONYMOUS_PASSWORD = 'anonymous@';
const ANONYMOUS_USERS = new Set(['anonymous', 'ftp']);

export interface FtpTarget {
  /** Host name or IP address, without IPv6 brackets. */
  host: string;
  port: number;
  /** ftps://: TLS from the first byte. */
  implicitTls: boolean;
  /** ftp:// with `secure`: AUTH TLS after the greeting. */
  explicitTls: boolean;
  /** The path as sent to the server (see ftpPath). */
  path: string;
  /** The path as shown in messages and details ('.' for the login directory). */
  shown: string;
  /** The password sent: the configured one, or ANONYMOUS_PASSWORD for an anonymous login without one. */
  password: string;
  /** Options of every TLS connection of the check (control and data). */
  tlsOptions: ConnectionOptions;
}

export function ftpTarget(url: URL, cfg: FtpConfig, egress: EgressGuard): FtpTarget {
  const scheme = url.protocol.slice(0, -1).toLowerCase();
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port ? Number(url.port) : (DEFAULT_PORTS[scheme] ?? 21);
  const implicitTls = scheme === 'ftps';
  const explicitTls = !implicitTls && cfg.secure;
  const path = ftpPath(url);
  const shown = path === '' ? '.' : path;
  const anonymous = ANONYMOUS_USERS.has(cfg.user.toLowerCase());
  const password = cfg.password === '' && anonymous ? ANONYMOUS_PASSWORD : cfg.password;
  // servername: SNI and the name the certificate is checked against (not for IP addresses,
  // whose certificate is checked against `host`). The guard's lookup is there in case a
  // connection is ever made by name; every one made here is to a judged address.
  const tlsOptions: ConnectionOptions = { host, rejectUnauthorized: cfg.rejectUnauthorized, lookup: egress.lookup };
  if (!isIP(host)) tlsOptions.servername = host;
  return { host, port, implicitTls, explicitTls, path, shown, password, tlsOptions };
}

/** The check's path as sent to the server: '' is the login directory. */
export function ftpPath(url: URL): string {
  const raw = url.pathname.replace(/^\//, '');
  if (raw === '') return '';
  return raw
    .split('/')
    .map((segment) => {
      try {
        return decodeURIComponent(segment);
      } catch {
        return segment;
      }
    })
    .join('/');
}
