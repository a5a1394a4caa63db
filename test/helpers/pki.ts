/**
 * Certificates for tests, made with the `openssl` command: a root CA, certificates it (or an
 * intermediate) issues with any validity window (past ones included, through `openssl ca`
 * -startdate/-enddate), and self-signed ones. EC P-256 keys, so that making one is quick.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Whether certificate tests can run. Under CI it is always true (CI installs openssl), so that a
 * missing openssl fails the tests there instead of skipping them.
 */
export const hasOpenssl =
  Boolean(process.env.CI) ||
  (() => {
    try {
      execFileSync('openssl', ['version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();

/** What a test name says when it is skipped for want of openssl. */
export const NO_OPENSSL = hasOpenssl ? '' : ' (skipped: openssl is not installed)';

/** A certificate and its private key, PEM. */
export interface Issued {
  cert: string;
  key: string;
}

export interface IssueOptions {
  cn: string;
  /** subjectAltName entries, e.g. ['DNS:localhost', 'IP:127.0.0.1']. */
  sans?: readonly string[];
  /** Valid from this many days ago (default 1). */
  fromDaysAgo?: number;
  /** Valid until this many days from now; negative for a certificate that has expired. */
  days: number;
  /** Signed by this CA (default the root). */
  issuer?: Issued;
  /** A CA certificate (basicConstraints CA:true), to issue others. */
  ca?: boolean;
}

export interface Pki {
  root: Issued;
  issue(options: IssueOptions): Issued;
  selfSigned(cn: string, sans?: readonly string[], days?: number): Issued;
  /** Removes the working directory. */
  close(): void;
}

const DAY = 86_400_000;
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

const CONFIG = `[ca]
default_ca = testca
[testca]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = anything
unique_subject = no
email_in_dn = no
copy_extensions = none
[anything]
commonName = supplied
`;

/** openssl's date form for -startdate/-enddate: YYYYMMDDHHMMSSZ. */
function opensslDate(ms: number): string {
  return `${new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
}

function extensions(options: { sans?: readonly string[] | undefined; ca?: boolean | undefined }): string {
  const lines = ['[x]'];
  if (options.ca) lines.push('basicConstraints = critical,CA:true', 'keyUsage = critical,keyCertSign,cRLSign');
  else lines.push('basicConstraints = CA:false', 'keyUsage = digitalSignature', 'extendedKeyUsage = serverAuth');
  if (options.sans?.length) lines.push(`subjectAltName = ${options.sans.join(',')}`);
  return `${lines.join('\n')}\n`;
}

export function createPki(name = 'webmon-pki-'): Pki {
  const dir = mkdtempSync(join(tmpdir(), name));
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 20_000 });
  const read = (file: string) => readFileSync(join(dir, file), 'utf8');
  writeFileSync(join(dir, 'ca.cnf'), CONFIG);
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '1000\n');
  let n = 0;

  const selfSigned = (cn: string, sans: readonly string[] = [], days = 30, ca = false): Issued => {
    const id = `s${++n}`;
    writeFileSync(join(dir, `${id}.cnf`), `[req]\ndistinguished_name = dn\n[dn]\n${extensions({ sans, ca })}`);
    run(['req', '-x509', ...EC, '-config', `${id}.cnf`, '-extensions', 'x', '-subj', `/CN=${cn}`, '-days', String(days), '-keyout', `${id}.key`, '-out', `${id}.pem`]);
    return { cert: read(`${id}.pem`), key: read(`${id}.key`) };
  };

  const root = selfSigned('webmon test root', [], 3650, true);

  const issue = (o: IssueOptions): Issued => {
    const id = `c${++n}`;
    const issuer = o.issuer ?? root;
    writeFileSync(join(dir, `${id}.issuer.pem`), issuer.cert);
    writeFileSync(join(dir, `${id}.issuer.key`), issuer.key);
    writeFileSync(join(dir, `${id}.ext`), extensions(o));
    run(['req', '-new', ...EC, '-subj', `/CN=${o.cn}`, '-keyout', `${id}.key`, '-out', `${id}.csr`]);
    const now = Date.now();
    run([
      'ca', '-batch', '-config', 'ca.cnf', '-notext',
      '-cert', `${id}.issuer.pem`, '-keyfile', `${id}.issuer.key`,
      '-in', `${id}.csr`, '-out', `${id}.pem`,
      '-startdate', opensslDate(now - (o.fromDaysAgo ?? 1) * DAY), '-enddate', opensslDate(now + o.days * DAY),
      '-extfile', `${id}.ext`, '-extensions', 'x',
    ]);
    return { cert: read(`${id}.pem`), key: read(`${id}.key`) };
  };

  return {
    root,
    issue,
    selfSigned: (cn, sans, days) => selfSigned(cn, sans, days),
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}
