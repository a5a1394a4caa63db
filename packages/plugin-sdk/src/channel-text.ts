/** Text helpers shared by channels: services limit lengths and some take HTML. */

/**
 * `text` cut to at most `max` UTF-16 code units, ending in `…` when cut; never splits a
 * surrogate pair (an emoji in an asset URL or a template).
 */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = Math.max(0, max - 1);
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}

/** `text` safe inside HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
