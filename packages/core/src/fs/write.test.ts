import { chmodSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFilesAtomic } from './write.js';

describe('writeFilesAtomic', () => {
  it('writes all files, keeps the mode of existing ones and applies the mode of new ones', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'contrast-write-'));
    writeFileSync(path.join(dir, 'a.yml'), 'old');
    chmodSync(path.join(dir, 'a.yml'), 0o640);
    await writeFilesAtomic([
      { path: path.join(dir, 'a.yml'), data: 'new' },
      { path: path.join(dir, 'key.pem'), data: new TextEncoder().encode('k'), mode: 0o600 },
    ]);
    expect(readFileSync(path.join(dir, 'a.yml'), 'utf8')).toBe('new');
    expect(statSync(path.join(dir, 'a.yml')).mode & 0o777).toBe(0o640);
    expect(readFileSync(path.join(dir, 'key.pem'), 'utf8')).toBe('k');
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
    expect((error as Error).message).toContain(path.join('missing-dir', 'b.yml'));
    expect((error as { file?: string }).file).toBe(path.join(dir, 'missing-dir', 'b.yml'));
    expect(readFileSync(path.join(dir, 'a.yml'), 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['a.yml']);
  });

  it('creates missing directories when asked, and never puts the data in an error', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'contrast-write-'));
    await writeFilesAtomic(
      [{ path: path.join(dir, 'x', 'y', 'secret'), data: 'top-secret-value', mode: 0o600 }],
      {
        createDirectories: true,
      },
    );
    expect(readFileSync(path.join(dir, 'x', 'y', 'secret'), 'utf8')).toBe('top-secret-value');
    expect(statSync(path.join(dir, 'x', 'y', 'secret')).mode & 0o777).toBe(0o600);
    // A file where a directory should be: the error names the file, not the content.
    writeFileSync(path.join(dir, 'blocker'), '');
    const error = (await writeFilesAtomic(
      [{ path: path.join(dir, 'blocker', 'k'), data: 'top-secret-value' }],
      {
        createDirectories: true,
      },
    ).catch((e: unknown) => e)) as Error;
    expect((error as { code?: string }).code).toBe('io-error');
    expect(error.message).toContain('blocker');
    expect(error.message).not.toContain('top-secret-value');
  });
});
