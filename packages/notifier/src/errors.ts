/** Failed sends as the short texts stored in a channel's lastError (never a secret). */
import { egressDenial } from '@webmon/core';

/** `denied: …` for an address the owner's guard refused, `timeout`, else the error's code and message. */
export function errorText(err: unknown): string {
  const refused = egressDenial(err);
  if (refused) return `denied: ${refused.message}`.slice(0, 300);
  const e = err as { code?: string; name?: string; message?: string };
  if (e?.name === 'TimeoutError' || e?.code === 'UND_ERR_HEADERS_TIMEOUT' || e?.code === 'UND_ERR_BODY_TIMEOUT' || e?.code === 'UND_ERR_CONNECT_TIMEOUT') return 'timeout';
  const text = [e?.code, e?.message].filter(Boolean).join(': ') || String(err);
  return text.slice(0, 200);
}
