import { describe, expect, it } from 'vitest';
import { ago, assetsHash, ms, msTick, parseRoute, pastedUrls, percent, stateColour } from './format.js';
import { requestInit, setCsrfToken, qs } from './api.js';

describe('dashboard helpers', () => {
  it('keeps the line number of each pasted URL, skipping blanks and comments', () => {
    expect(pastedUrls('https://a.example\n\n  # a comment\n not a url \r\nhttps://b.example  \n')).toEqual([
      { line: 1, url: 'https://a.example' },
      { line: 4, url: 'not a url' },
      { line: 5, url: 'https://b.example' },
    ]);
  });

  it('routes hashes and the public status path', () => {
    expect(parseRoute('/', '')).toEqual({ page: 'overview' });
    expect(parseRoute('/', '#/assets?state=down&q=shop')).toEqual({ page: 'assets', state: 'down', tag: '', q: 'shop' });
    expect(parseRoute('/', '#/assets/AbC123')).toEqual({ page: 'asset', id: 'AbC123' });
    expect(parseRoute('/', '#/ops')).toEqual({ page: 'ops' });
    expect(parseRoute('/status/acme-web', '#/ops')).toEqual({ page: 'status', slug: 'acme-web' });
    expect(parseRoute('/status/-bad', '')).toEqual({ page: 'overview' });
    expect(assetsHash({ state: 'down', tag: '', q: 'a b' })).toBe('#/assets?state=down&q=a+b');
  });

  it('formats numbers, times and colours', () => {
    expect(percent(99.5)).toBe('99.50 %');
    expect(percent(null)).toBe('–');
    expect(ms(12.4)).toBe('12 ms');
    expect(ms(1500)).toBe('1.50 s');
    expect(ago(1_000, 61_000)).toBe('1 min ago');
    expect(ago(null)).toBe('never');
    expect(stateColour('unsupported')).toBe('#1d4ed8');
    expect(stateColour('nonsense')).toBe(stateColour('unknown'));
  });

  it('sends the CSRF token on state-changing requests only', () => {
    setCsrfToken('tok');
    const headers = (m: string) => requestInit(m, m === 'GET' ? undefined : {}).headers as Record<string, string>;
    expect(headers('POST')['x-webmon-csrf']).toBe('tok');
    expect(headers('DELETE')['x-webmon-csrf']).toBe('tok');
    expect(headers('GET')['x-webmon-csrf']).toBeUndefined();
    setCsrfToken(null);
    expect(headers('POST')['x-webmon-csrf']).toBeUndefined();
    expect(qs({ a: 'x', b: '', c: undefined, d: 0 })).toBe('?a=x&d=0');
  });

  it('labels latency ticks with as many decimals as their spacing needs', () => {
    expect([3, 3.2, 3.4].map((x, _i, all) => msTick(x, all))).toEqual(['3.0', '3.2', '3.4']);
    expect([0, 50, 100].map((x, _i, all) => msTick(x, all))).toEqual(['0', '50', '100']);
    expect([1.05, 1.1].map((x, _i, all) => msTick(x, all))).toEqual(['1.05', '1.10']);
    expect(msTick(7, [7])).toBe('7');
  });
});
