/**
 * The `webmon` command line as a user meets it: --version, per-command help, usage errors (exit
 * 2, a short usage on stderr, no stack trace), and `webmon status` as JSON for scripts and as a
 * table for people, against a real dispatcher. Terminal behaviour (table by default, colours,
 * NO_COLOR) is checked under a real pseudo-terminal, util-linux `script`.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, startRoles, type Proc } from './helpers/processes.js';
import { testRedis, type TestRedis } from './helpers/redis.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const VERSION = (JSON.parse(readFileSync(`${ROOT}packages/cli/package.json`, 'utf8')) as { version: string }).version;
/** The command npm links into node_modules/.bin (what `npx webmon` runs). */
const LINKED = `${ROOT}node_modules/.bin/webmon`;
/** An empty working directory: no ./webmon.yaml, no ./data of another run. */
const CWD = mkdtempSync(join(tmpdir(), 'webmon-cli-'));
afterAll(() => rmSync(CWD, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `command args` to its end (bounded by the test timeout), stdout and stderr apart. */
function run(command: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  const child = spawn(command, args, { cwd: CWD, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

const cli = (args: string[], env: Record<string, string> = {}) => run(process.execPath, [CLI, ...args], env);

/** The CLI on a pseudo-terminal: stdout is a TTY, as when a person types the command. */
const onTerminal = (args: string[], env: Record<string, string> = {}) =>
  run('script', ['-qec', [process.execPath, CLI, ...args].map((a) => `'${a}'`).join(' '), '/dev/null'], { TERM: 'xterm-256color', ...env });

const STACK_LINE = /^\s+at .+\(?.*:\d+:\d+\)?$/m;

describe('webmon --version', () => {
  it('prints the package version and nothing else', async () => {
    for (const flag of ['--version', '-V']) expect(await cli([flag])).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
  });

  it('is what the npm-linked command (npx webmon) prints too', async () => {
    expect(existsSync(LINKED)).toBe(true);
    expect(await run(LINKED, ['--version'])).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
  });
});

describe('usage errors', () => {
  it('an unknown flag: exit 2, the error and a short usage on stderr, no stack trace', async () => {
    const res = await cli(['status', '--frobnicate']);
    expect(res.code).toBe(2);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/^webmon: unknown option '--frobnicate'\n/);
    expect(res.stderr).toContain('usage: webmon status [options]');
    expect(res.stderr).not.toMatch(STACK_LINE);
    expect(res.stderr.split('\n').length).toBeLessThan(6);
  });

  it('an unknown flag before any command', async () => {
    const res = await cli(['--frobnicate', 'status']);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^webmon: unknown option '--frobnicate'\n/);
    expect(res.stderr).toContain('usage: webmon [options] <command>');
    expect(res.stderr).not.toMatch(STACK_LINE);
  });

  it('an unknown command', async () => {
    const res = await cli(['frobnicate']);
    expect(res).toMatchObject({ code: 2, stdout: '' });
    expect(res.stderr).toMatch(/^webmon: unknown command "frobnicate"\nusage: webmon \[options\] <command>\n/);
    expect(res.stderr).not.toMatch(STACK_LINE);
  });

  it('a missing option value', async () => {
    const res = await cli(['apply', '--file']);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^webmon: option '-f, --file <FILE>' argument missing\n/);
    expect(res.stderr).not.toMatch(STACK_LINE);
  });
});

describe('per-command help', () => {
  const options: Record<string, string[]> = {
    apply: ['-f, --file <FILE>', '--api <URL>', '--key <KEY>', '--client <ID>', '-c, --config <FILE>'],
    up: ['--executors <N>', '-c, --config <FILE>'],
    status: ['--json', '--table', '-c, --config <FILE>'],
  };
  for (const [command, flags] of Object.entries(options)) {
    it(`${command} --help lists the options of ${command}`, async () => {
      for (const args of [[command, '--help'], [command, '-h'], ['help', command]]) {
        const res = await cli(args);
        expect(res).toMatchObject({ code: 0, stderr: '' });
        expect(res.stdout).toContain(`Usage: webmon ${command} [options]`);
        for (const flag of flags) expect(res.stdout).toContain(flag);
      }
    });
  }

  it('only the command asked about: status help does not list apply options', async () => {
    const res = await cli(['status', '--help']);
    expect(res.stdout).not.toContain('--file');
    expect(res.stdout).not.toContain('--executors');
  });

  it('webmon --help lists every command', async () => {
    const res = await cli(['--help']);
    expect(res.code).toBe(0);
    for (const command of ['up', 'api', 'dispatcher', 'executor', 'apply', 'status', 'ping', 'snapshot', 'keys', 'env']) {
      expect(res.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    }
    expect(res.stdout).not.toContain('executor-child');
  });
});

describe('webmon status against a running dispatcher', () => {
  let t: TestRedis;
  let dispatcher: Proc;
  let env: Record<string, string>;

  beforeAll(async () => {
    t = await testRedis('cli');
    const d = await startRoles(['dispatcher'], { redisUrl: t.url, prefix: t.prefix, adminKey: 'cli-admin-key-0123456789abcdef' });
    env = d.env;
    dispatcher = d.procs[0]!;
  });
  afterAll(async () => {
    await dispatcher?.stop();
    await t?.cleanup();
  });

  it('--json prints the JSON reply, and so does a plain `status` when stdout is not a terminal', async () => {
    const json = await cli(['status', '--json'], env);
    expect(json).toMatchObject({ code: 0, stderr: '' });
    const status = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(status).toMatchObject({ instance: expect.any(String), queue: 0, queuedInRedis: 0, running: 0, executors: 0, dropped: 0, lastSnapshot: expect.any(Object) });
    const plain = await cli(['status'], env);
    expect(plain.code).toBe(0);
    expect(Object.keys(JSON.parse(plain.stdout) as object).sort()).toEqual(Object.keys(status).sort());
  });

  it('--table shows every field of the reply, without colours off a terminal', async () => {
    const status = JSON.parse((await cli(['status', '--json'], env)).stdout) as { instance: string; lastSnapshot: { status: string } };
    const res = await cli(['status', '--table'], env);
    expect(res).toMatchObject({ code: 0, stderr: '' });
    expect(res.stdout).not.toContain('\x1b[');
    expect(res.stdout).toMatch(new RegExp(`^dispatcher +${status.instance}$`, 'm'));
    expect(res.stdout).toMatch(/^queued in Redis +0$/m);
    expect(res.stdout).toMatch(/^last snapshot$/m);
    expect(res.stdout).toMatch(new RegExp(`^  status +${status.lastSnapshot.status}$`, 'm'));
  });

  it('on a terminal: a table by default, coloured unless NO_COLOR is set', async () => {
    const coloured = await onTerminal(['status'], env);
    expect(coloured.code).toBe(0);
    expect(coloured.stdout).toContain('queued in Redis');
    expect(coloured.stdout).toContain('\x1b[');
    const plain = await onTerminal(['status'], { ...env, NO_COLOR: '1' });
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain('queued in Redis');
    expect(plain.stdout).not.toContain('\x1b[');
    const json = await onTerminal(['status', '--json'], env);
    expect(JSON.parse(json.stdout)).toMatchObject({ queue: 0 });
  });
});
