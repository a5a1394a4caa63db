import { describe, expect, it } from 'vitest';
import type { AssetRecord, CheckResult } from '@webmon/core';
import { outcomeOf, withBodyCap } from './index.js';

const result = (r: Partial<CheckResult>): CheckResult => ({ plugin: 'http', status: 'ok', reason: null, message: 'ok', durationMs: 1, metrics: {}, ...r });

describe('outcomeOf', () => {
  it('is unsupported with the refusal as reason when a connection was denied, whatever else failed', () => {
    const denied = result({ plugin: 'htmlstats', status: 'error', reason: 'denied', message: 'address 10.0.0.1 is private: clients may not reach it' });
    expect(outcomeOf([result({ status: 'error', reason: 'timeout' }), denied])).toEqual({ outcome: 'unsupported', reason: 'denied: address 10.0.0.1 is private: clients may not reach it' });
    expect(outcomeOf([result({ status: 'warn', reason: 'slow' }), result({ status: 'error', reason: 'refused' })])).toEqual({ outcome: 'error', reason: 'refused' });
  });
});

describe('withBodyCap', () => {
  const asset = (http?: Record<string, unknown>) => ({ config: http ? { http, tcp: { maxBytes: 10 } } : { tcp: { maxBytes: 10 } } }) as unknown as AssetRecord;

  it("lowers the http plugin's maxBodyBytes to the cap without changing the stored asset", () => {
    const stored = asset({ maxBodyBytes: 5_000_000, method: 'GET' });
    const capped = withBodyCap(stored, 1024);
    expect(capped.config.http).toEqual({ maxBodyBytes: 1024, method: 'GET' });
    expect(capped.config.tcp).toEqual({ maxBytes: 10 });
    expect(stored.config.http!.maxBodyBytes).toBe(5_000_000);
  });

  it('keeps a smaller value and assets without a capped option as they are', () => {
    const small = asset({ maxBodyBytes: 100 });
    expect(withBodyCap(small, 1024)).toBe(small);
    const none = asset();
    expect(withBodyCap(none, 1024)).toBe(none);
    expect(withBodyCap(asset({}), 1024).config.http).toEqual({ maxBodyBytes: 1024 });
  });

  it('caps what the ftp, tcp and htmlstats plugins read too', () => {
    const stored = { config: { ftp: { maxBytes: 50_000_000 }, tcp: { maxBytes: 500 }, htmlstats: { maxParseBytes: 2_097_152 } } } as unknown as AssetRecord;
    expect(withBodyCap(stored, 1024).config).toEqual({ ftp: { maxBytes: 1024 }, tcp: { maxBytes: 500 }, htmlstats: { maxParseBytes: 1024 } });
  });
});
