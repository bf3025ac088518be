import { chmodSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { joinResourceFiles, writeFilesAtomic } from './write.js';

describe('writeFilesAtomic', () => {
  it('writes all files, keeps the mode of existing ones and applies the mode of new ones', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'contrast-write-'));
    writeFileSync(path.join(dir, 'a.yml'), 'old');
    chmodSync(path.join(dir, 'a.yml'), 0o640);
    await writeFilesAtomic([
      { path: path.join(dir, 'a.yml'), data: 'new' },
      { path: path.join(dir, 'key.pem'), data: 'k', mode: 0o600 },
    ]);
    expect(readFileSync(path.join(dir, 'a.yml'), 'utf8')).toBe('new');
    expect(statSync(path.join(dir, 'a.yml')).mode & 0o777).toBe(0o640);
    expect(statSync(path.join(dir, 'key.pem')).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir).sort()).toEqual(['a.yml', 'key.pem']);
  });

  it('touches nothing and leaves no temporary file when one write fails', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'contrast-write-'));
    writeFileSync(path.join(dir, 'a.yml'), 'old');
    const error = await writeFilesAtomic([
      { path: path.join(dir, 'a.yml'), data: 'new' },
      { path: path.join(dir, 'missing-dir', 'b.yml'), data: 'b' },
    ]).catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('io-error');
    expect((error as Error).message).toContain('missing-dir/b.yml');
    expect(readFileSync(path.join(dir, 'a.yml'), 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['a.yml']);
  });
});

describe('joinResourceFiles', () => {
  it('separates files with --- unless a file starts with one, and skips empty files', () => {
    const f = (text: string) => ({ path: 'x', absolutePath: 'x', original: text, text, changed: false });
    expect(joinResourceFiles([f('a: 1'), f(''), f('---\nb: 2\n'), f('c: 3\n')])).toBe(
      'a: 1\n---\nb: 2\n---\nc: 3\n',
    );
  });
});
