/** Badges: a two-part SVG (label | value) from a small template; every text is XML-escaped. */

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => XML_ESCAPES[c]!);
}

/** Colours of asset states, as the dashboard shows them (unsupported is blue). */
export const STATE_COLOURS: Record<string, string> = {
  up: '#2e7d32',
  degraded: '#b7791f',
  down: '#c62828',
  unsupported: '#1565c0',
  paused: '#616161',
  maintenance: '#6a1b9a',
  unknown: '#616161',
};

const GREY = '#616161';

/** Approximate width of a text in 11 px Verdana (wide enough for any character). */
function textWidth(text: string): number {
  return Math.ceil([...text].length * 7.2) + 12;
}

export function badgeSvg(label: string, value: string, colour: string): string {
  const lw = textWidth(label);
  const vw = textWidth(value);
  const l = escapeXml(label);
  const v = escapeXml(value);
  const fill = /^#[0-9a-f]{6}$/i.test(colour) ? colour : GREY;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${lw + vw}" height="20" role="img" aria-label="${l}: ${v}">`,
    `<title>${l}: ${v}</title>`,
    `<rect width="${lw}" height="20" fill="#555"/>`,
    `<rect x="${lw}" width="${vw}" height="20" fill="${fill}"/>`,
    '<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">',
    `<text x="${lw / 2}" y="14">${l}</text>`,
    `<text x="${lw + vw / 2}" y="14">${v}</text>`,
    '</g>',
    '</svg>',
  ].join('');
}

export function uptimeColour(percent: number | null): string {
  if (percent === null) return GREY;
  if (percent >= 99.9) return '#2e7d32';
  if (percent >= 99) return '#558b2f';
  if (percent >= 95) return '#b7791f';
  return '#c62828';
}

export function latencyColour(ms: number | null): string {
  if (ms === null) return GREY;
  if (ms < 300) return '#2e7d32';
  if (ms < 1000) return '#b7791f';
  return '#c62828';
}
