import { describe, expect, it } from 'vitest';
import { printable } from './printable.js';

describe('printable', () => {
  it('shows each control character that would act on a terminal, and keeps the rest of the text', () => {
    expect(printable('a\0b')).toBe('a␀b');
    expect(printable('\x1b[2J\x1b]0;title\x07')).toBe('␛[2J␛]0;title␇');
    expect(printable('over\rwrite\x08\x7f')).toBe('over␍write␈␡');
    expect(printable('c1 \x9b31m')).toBe('c1 \\u009b31m');
  });

  it('leaves line feeds, tabs and text beyond ASCII as they are', () => {
    expect(printable('two\nlines\tand é中 ␀')).toBe('two\nlines\tand é中 ␀');
  });
});
