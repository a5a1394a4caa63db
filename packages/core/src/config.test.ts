import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configEnvVars, loadConfig } from './config.js';
import { ConfigError } from './errors.js';

const dir = mkdtempSync(join(tmpdir(), 'webmon-config-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('loadConfig', () => {
  it('applies documented defaults and freezes the result', () => {
    const c = loadConfig({ env: {} });
    expect(c.api).toMatchObject({ host: '127.0.0.1', port: 8080 });
    expect(c.zmq).toMatchObject({ frontend: 'tcp://127.0.0.1:5559', backend: 'tcp://127.0.0.1:5560', control: 'tcp://127.0.0.1:5561' });
    expect(c.executor.concurrency).toBe(100);
    expect(c.checks).toMatchObject({ downAfter: 3, upAfter: 1, defaultIntervalSec: 300, minIntervalSec: 10 });
    expect(c.redis.url).toBeUndefined();
    expect(Object.isFrozen(c.api)).toBe(true);
  });

  it('reads a YAML file and lets the environment override it', () => {
    const f = file('a.yaml', 'api:\n  port: 9001\nexecutor:\n  concurrency: 5\nredis:\n  url: redis://10.0.0.1:6379\n');
    const c = loadConfig({ file: f, env: { WEBMON_API_PORT: '9002', WEBMON_API_ADMIN_KEY: 'k'.repeat(20) } });
    expect(c.api.port).toBe(9002);
    expect(c.api.adminKey).toBe('k'.repeat(20));
    expect(c.executor.concurrency).toBe(5);
    expect(c.redis.url).toBe('redis://10.0.0.1:6379');
  });

  it.each([
    [{ WEBMON_API_PORT: '70000' }, /api\.port: .*65535.*70000/],
    [{ WEBMON_API_PORT: 'eighty' }, /WEBMON_API_PORT: must be a number/],
    [{ WEBMON_EXECUTOR_CONCURRENCY: '0' }, /executor\.concurrency/],
    [{ WEBMON_REDIS_URL: 'http://nope' }, /redis\.url/],
    [{ WEBMON_ZMQ_FRONTEND: 'localhost:5559' }, /zmq\.frontend/],
    [{ WEBMON_LOG_LEVEL: 'loud' }, /log\.level/],
    [{ WEBMON_API_ADMIN_KEY: 'short' }, /api\.adminKey/],
  ])('rejects bad environment %o naming the field', (env, message) => {
    expect(() => loadConfig({ env })).toThrow(ConfigError);
    expect(() => loadConfig({ env })).toThrow(message);
  });

  it('rejects unknown options and malformed files, naming them', () => {
    expect(() => loadConfig({ file: file("b.yaml", "api:\n  prot: 1\n"), env: {} })).toThrow(/api\.prot: unknown option/);
    expect(() => loadConfig({ file: file('c.yaml', 'nonsense: true\n'), env: {} })).toThrow(/nonsense: unknown option/);
    expect(() => loadConfig({ file: file('d.yaml', 'api: [\n'), env: {} })).toThrow(/config file .*d\.yaml/);
    expect(() => loadConfig({ file: file('e.yaml', '- 1\n'), env: {} })).toThrow(/top level must be a mapping/);
    expect(() => loadConfig({ file: join(dir, 'missing.yaml'), env: {} })).toThrow(/missing\.yaml/);
  });

  it('derives one environment variable per option', () => {
    const vars = configEnvVars().map((v) => v.env);
    expect(vars).toContain('WEBMON_API_ADMIN_KEY');
    expect(vars).toContain('WEBMON_REDIS_URL');
    expect(vars).toContain('WEBMON_EXECUTOR_CONCURRENCY');
    expect(new Set(vars).size).toBe(vars.length);
  });
});
