/**
 * Tenant regular expressions: RE2 semantics, JavaScript spellings RE2 can express, refusal of
 * what it cannot run (at validation, naming the field), linear time on catastrophic patterns.
 */
import Type from 'typebox';
import { describe, expect, it } from 'vitest';
import { PluginRegistry, USER_REGEX_FORMAT, USER_REGEX_MAX_PROGRAM, UserRegexError, definePlugin, ok, userRegex, userRegexProblem, validateUserRegex } from './index.js';

describe('userRegex', () => {
  it('matches anywhere in the text, like RegExp#test', () => {
    expect(userRegex('Order #\\d{5} ready').test('<p>Order #12345 ready</p>')).toBe(true);
    expect(userRegex('^SSH-2\\.0').test('SSH-2.0-OpenSSH\r\n')).toBe(true);
    expect(userRegex('^SSH-2\\.0').test('x SSH-2.0')).toBe(false);
    expect(userRegex('end$').test('the end\n')).toBe(false); // `$` is the end of the text, as in JavaScript
  });

  it('matches case-insensitively when asked', () => {
    expect(userRegex('order #\\d+').test('ORDER #7')).toBe(false);
    expect(userRegex('order #\\d+', { ignoreCase: true }).test('ORDER #7')).toBe(true);
  });

  it('accepts JavaScript spellings RE2 can express', () => {
    expect(userRegex('(?<word>\\w+)!').test('hi!')).toBe(true);
    expect(userRegex('\\u0041B').test('AB')).toBe(true);
    expect(userRegex('a/b').test('a/b')).toBe(true);
  });

  it.each([
    ['(a)\\1', /invalid escape/],
    ['(?<=a)b', /named capture|lookbehind|invalid/],
    ['(?=a)b', /unsupported Perl syntax/],
    ['(?!a)b', /unsupported Perl syntax/],
    ['[', /missing closing \]/],
    ['a{2,1}', /invalid repeat count/],
    [`a{${USER_REGEX_MAX_PROGRAM}}`, /too complex/],
  ])('refuses %s', (source, why) => {
    expect(() => userRegex(source)).toThrow(UserRegexError);
    expect(userRegexProblem(source)).toMatch(why);
    expect(validateUserRegex(source)).toBe(false);
  });

  it('is not a string: not valid', () => {
    expect(validateUserRegex(42)).toBe(false);
    expect(validateUserRegex('ok')).toBe(true);
  });

  it('runs catastrophic patterns in linear time', () => {
    const page = `${'a'.repeat(100_000)}!`;
    const xs = 'x'.repeat(100_000);
    const started = performance.now();
    expect(userRegex('^(a+)+$').test(page)).toBe(false);
    expect(userRegex('(x+x+)+y').test(xs)).toBe(false);
    expect(userRegex('(a|aa)+$', { ignoreCase: true }).test(page)).toBe(false);
    // Backtracking engines take longer than the age of the universe here; RE2 takes milliseconds.
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('caches compiled expressions per source and case mode', () => {
    expect(userRegex('cache-me')).toBe(userRegex('cache-me'));
    expect(userRegex('cache-me', { ignoreCase: true })).not.toBe(userRegex('cache-me'));
  });
});

describe('the re2 schema format', () => {
  const plugin = definePlugin({
    name: 'probe',
    description: 'test plugin',
    schemes: ['probe'],
    configSchema: Type.Object({ pattern: Type.Optional(Type.String({ format: USER_REGEX_FORMAT })) }, { additionalProperties: false }),
    run: async () => ok('fine'),
  });
  const registry = new PluginRegistry([plugin]);

  it('accepts an expression RE2 runs', () => {
    expect(registry.validate('probe', { pattern: '^220 ' })).toMatchObject({ ok: true, value: { pattern: '^220 ' } });
  });

  it('refuses a backreference at validation, naming the field and the reason', () => {
    const v = registry.validate('probe', { pattern: '(a)\\1' });
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.problems).toEqual([{ field: 'probe.pattern', message: expect.stringMatching(/not a supported regular expression.*invalid escape sequence/) }]);
  });
});
