/** Reading stream replies of XREADGROUP, XAUTOCLAIM and XINFO in every reply shape ioredis gives. */

export type StreamEntry = [id: string, fields: string[] | null];

/** A flat [field, value, field, value, …] list as an object. */
export function fieldsOf(fields: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) out[fields[i]!] = fields[i + 1]!;
  return out;
}

/**
 * The entries of a one-stream XREAD/XREADGROUP reply, whatever its shape: RESP2
 * `[[key, entries]]`, RESP3 with ioredis' legacy mapping `[key, entries]` (a map, flattened), or
 * RESP3 with `replyMapping: 'resp3'` `{key: entries}`; null when nothing came.
 */
export function streamEntries(reply: unknown): StreamEntry[] {
  if (!reply) return [];
  if (Array.isArray(reply)) {
    if (typeof reply[0] === 'string' || Buffer.isBuffer(reply[0])) return (reply[1] as StreamEntry[] | undefined) ?? [];
    return ((reply[0] as unknown[] | undefined)?.[1] as StreamEntry[] | undefined) ?? [];
  }
  if (typeof reply === 'object') return (Object.values(reply)[0] as StreamEntry[] | undefined) ?? [];
  return [];
}
