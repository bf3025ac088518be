import { describe, expect, it } from 'vitest';
import { joinResourceFiles } from './write.js';

describe('joinResourceFiles', () => {
  it('separates files with --- unless a file starts with one, and skips empty files', () => {
    const f = (text: string) => ({ path: 'x', absolutePath: 'x', original: text, text, changed: false });
    expect(joinResourceFiles([f('a: 1'), f(''), f('---\nb: 2\n'), f('c: 3\n')])).toBe(
      'a: 1\n---\nb: 2\n---\nc: 3\n',
    );
  });

  it('keeps each file in its own line ending', () => {
    const f = (text: string) => ({ path: 'x', absolutePath: 'x', original: text, text, changed: false });
    expect(joinResourceFiles([f('a: 1\n'), f('b: 2\r\nc: 3'), f('d: 4\n')])).toBe(
      'a: 1\n---\r\nb: 2\r\nc: 3\r\n---\nd: 4\n',
    );
  });
});
