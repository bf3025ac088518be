import { describe, expect, it } from 'vitest';
import { parseResourceText, renderResourceFile } from './files.js';

describe('renderResourceFile', () => {
  const text = '# one\nkind: A\n---\n# two\nkind: B # keep\n...\n';

  it('returns the text unchanged when nothing changed', () => {
    const f = parseResourceText('f.yml', text);
    expect(renderResourceFile(f, new Set())).toBe(text);
  });

  it('re-renders only the changed document and keeps separators and comments', () => {
    const f = parseResourceText('f.yml', text);
    f.documents[1]!.set('extra', 'x');
    expect(renderResourceFile(f, new Set([1]))).toBe(
      '# one\nkind: A\n---\n# two\nkind: B # keep\nextra: x\n...\n',
    );
    const g = parseResourceText('f.yml', text);
    g.documents[0]!.set('extra', 'y');
    expect(renderResourceFile(g, new Set([0]))).toBe(
      '# one\nkind: A\nextra: y\n---\n# two\nkind: B # keep\n...\n',
    );
  });

  it('keeps CRLF line endings', () => {
    const crlf = text.replace(/\n/g, '\r\n');
    const f = parseResourceText('f.yml', crlf);
    f.documents[0]!.set('extra', 'y');
    const out = renderResourceFile(f, new Set([0]));
    expect(out).toBe('# one\r\nkind: A\r\nextra: y\r\n---\r\n# two\r\nkind: B # keep\r\n...\r\n');
  });

  it('reports every syntax error with its line and column', () => {
    expect(() => parseResourceText('bad.yml', 'a: 1\n---\nb: [1,\n')).toThrow(
      /^bad\.yml: documents\[1\]: invalid YAML at line \d+, column \d+/,
    );
  });
});
