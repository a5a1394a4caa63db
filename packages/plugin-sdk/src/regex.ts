/**
 * Regular expressions written by tenants (body rules, banner patterns). They run in RE2
 * (re2js): matching time is linear in the text, so no pattern can backtrack for seconds on a
 * crafted page. JavaScript-only syntax that RE2 can express (`(?<name>…)`, `\u0041`) is
 * translated; what it cannot (backreferences, lookahead, lookbehind) is refused when the asset
 * is created, through the schema format `re2` checked by the plugin registry.
 *
 * Matching is linear with a factor that grows with the compiled program, so programs are capped
 * (USER_REGEX_MAX_PROGRAM); the text is bounded by each plugin's byte cap.
 */
import { RE2JS } from 're2js';
import { Format } from 'typebox/format';
import { INLINE_BYTES, RegexPool } from './regex-pool.js';

/** Schema format of a tenant's regular expression: `Type.String({ format: USER_REGEX_FORMAT })`. */
export const USER_REGEX_FORMAT = 're2';

/** Most instructions of a compiled expression (`a{400}` is about 400). */
export const USER_REGEX_MAX_PROGRAM = 500;

const CACHE_SIZE = 256;

export interface UserRegexOptions {
  ignoreCase?: boolean;
}

/** A compiled tenant expression. */
export interface UserRegex {
  readonly source: string;
  readonly ignoreCase: boolean;
  /** Whether the expression matches anywhere in `text` (unanchored, like RegExp#test). Inline: small texts only. */
  test(text: string): boolean;
  /**
   * The same, off the event loop for large texts (see regex-pool.ts): rejects with
   * RegexTimeoutError when the match runs past its budget, or with the signal's reason.
   */
  match(text: string | Uint8Array, options?: MatchOptions): Promise<boolean>;
}

export interface MatchOptions {
  /** How bytes are decoded (default utf8). */
  encoding?: 'utf8' | 'latin1';
  /** Whose check this is: waiting matches are served round robin per owner. */
  owner?: string;
  signal?: AbortSignal;
}

const pool = new RegexPool();

/** Stops the matching workers (executor shutdown). */
export function closeRegexPool(): Promise<void> {
  return pool.close();
}

/** A tenant expression RE2 cannot run; the message says why. */
export class UserRegexError extends Error {
  constructor(
    readonly source: string,
    message: string,
  ) {
    super(message);
    this.name = 'UserRegexError';
  }
}

const cache = new Map<string, UserRegex>();

/**
 * Compiles (or takes from a bounded cache) a tenant expression. Throws UserRegexError when RE2
 * cannot run it, e.g. an expression stored before they were validated this way.
 */
export function userRegex(source: string, options: UserRegexOptions = {}): UserRegex {
  const ignoreCase = options.ignoreCase === true;
  const key = `${ignoreCase ? 'i' : '-'}${source}`;
  const hit = cache.get(key);
  if (hit) {
    cache.delete(key); // least recently used goes first
    cache.set(key, hit);
    return hit;
  }
  const re = compile(source, ignoreCase);
  const translated = RE2JS.translateRegExp(source);
  const compiled: UserRegex = {
    source,
    ignoreCase,
    test: (text) => re.test(text),
    // Small texts are matched here with the compiled expression; large ones in the pool's workers.
    match: (text, o = {}) => {
      const bytes = typeof text === 'string' ? text.length : text.byteLength;
      if (bytes > INLINE_BYTES) return pool.matches({ source: translated, ignoreCase, text, encoding: o.encoding, owner: o.owner, signal: o.signal });
      if (o.signal?.aborted) return Promise.reject(o.signal.reason);
      return Promise.resolve(re.test(typeof text === 'string' ? text : Buffer.from(text).toString(o.encoding ?? 'utf8')));
    },
  };
  if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  cache.set(key, compiled);
  return compiled;
}

/** Why RE2 cannot run `source`, or null when it can. */
export function userRegexProblem(source: string): string | null {
  try {
    userRegex(source);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/** The `re2` format check: a string RE2 compiles within the program cap. */
export function validateUserRegex(value: unknown): boolean {
  return typeof value === 'string' && userRegexProblem(value) === null;
}

function compile(source: string, ignoreCase: boolean): RE2JS {
  let re: RE2JS;
  try {
    re = RE2JS.compile(RE2JS.translateRegExp(source), ignoreCase ? RE2JS.CASE_INSENSITIVE : 0);
  } catch (err) {
    throw new UserRegexError(source, `not a supported regular expression (RE2 syntax: no backreferences or lookaround): ${syntaxMessage(err)}`);
  }
  if (re.programSize() > USER_REGEX_MAX_PROGRAM) {
    throw new UserRegexError(source, `regular expression too complex (${re.programSize()} instructions, at most ${USER_REGEX_MAX_PROGRAM}): use smaller repeat counts`);
  }
  return re;
}

function syntaxMessage(err: unknown): string {
  return ((err as Error).message ?? String(err)).replace(/^error parsing regexp: /, '');
}


interface FormatError {
  keyword: string;
  instancePath: string;
  message: string;
  params?: unknown;
}

/** A schema error on a `re2` field, its message replaced by why RE2 refused the expression. */
export function explainRegexError<E extends FormatError>(error: E, root: unknown): E {
  if (error.keyword !== 'format' || (error.params as { format?: unknown } | undefined)?.format !== USER_REGEX_FORMAT) return error;
  const value = valueAt(root, error.instancePath);
  const problem = typeof value === 'string' ? userRegexProblem(value) : null;
  return problem ? { ...error, message: problem } : error;
}

function valueAt(root: unknown, pointer: string): unknown {
  let at = root;
  for (const part of pointer.split('/').slice(1)) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return at;
}

Format.Set(USER_REGEX_FORMAT, validateUserRegex);
