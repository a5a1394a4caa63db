import { describe, expect, it } from 'vitest';
import { cutText, escapeHtml } from './channel-text.js';

describe('cutText', () => {
  it('keeps text within the limit and marks a cut', () => {
    expect(cutText('abc', 3)).toBe('abc');
    expect(cutText('abcdef', 4)).toBe('abc…');
    expect(cutText('abcdef', 4)).toHaveLength(4);
  });
  it('never splits a surrogate pair', () => {
    const cut = cutText('ab😀cd', 4); // the emoji spans indexes 2-3
    expect(cut).toBe('ab…');
    expect(cut).not.toMatch(/[\uD800-\uDFFF]/); // no half of the emoji left (tsconfig's lib has no isWellFormed)
  });
});

describe('escapeHtml', () => {
  it('escapes markup and both quotes', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe('&#60;a href=&#34;x&#34; title=&#39;y&#39;&#62;&#38;&#60;/a&#62;');
  });
});
