import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: plain ESM build script without types
import { buildPage, PAGE_NAME, writePage } from '../build.mjs';

describe('the verifier page build', () => {
  it('is one self-contained file (no external script, style, image or font), with its sha256 next to it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'verifier-page-'));
    try {
      const { file, sha256 } = (await writePage(dir)) as { file: string; sha256: string };
      const html = readFileSync(file, 'utf8');
      expect(path.basename(file)).toBe(PAGE_NAME);
      expect(createHash('sha256').update(html).digest('hex')).toBe(sha256);
      expect(readFileSync(`${file}.sha256`, 'utf8')).toBe(`${sha256}  ${PAGE_NAME}\n`);
      // Reproducible: building again gives the same bytes (the published hash can be re-checked).
      expect(((await buildPage()) as { sha256: string }).sha256).toBe(sha256);
      // Outside the inline script: no element that loads anything, no CSS import or url().
      const markup = html.replace(/<script>[\s\S]*<\/script>/, '<script></script>');
      expect(markup.match(/<script[^>]+src=|<link\b|<img\b|<iframe\b|@import|url\(/gi)).toBeNull();
      expect(html.match(/<script\b/g)?.length).toBe(1);
      const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1] ?? '';
      expect(csp).toMatch(/^default-src 'none'; script-src 'sha256-[A-Za-z0-9+/=]+'; style-src 'sha256-/);
      const script = /<script>([\s\S]*)<\/script>/.exec(html)?.[1] ?? '';
      const scriptHash = createHash('sha256').update(script).digest('base64');
      expect(csp).toContain(`script-src 'sha256-${scriptHash}'`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
