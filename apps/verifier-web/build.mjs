// Builds the verifier page: src/page.ts bundled by esbuild for the browser (from the packages'
// sources) and inlined, with src/page.css, into src/page.html. One self-contained file: its
// Content-Security-Policy allows only its own inline script and style (by hash) and connections
// to the Coordinator (no other origin can serve it code). Writes dist/contrast-verifier.html and
// dist/contrast-verifier.html.sha256 ("<hex>  contrast-verifier.html", as sha256sum prints).

import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
export const PAGE_NAME = 'contrast-verifier.html';

const cspHash = (text) => `sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}`;

/** The page as text and its sha256 (hex). */
export async function buildPage() {
  const out = await build({
    entryPoints: [path.join(here, 'src/page.ts')],
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    conditions: ['@contrast-cc/source'],
    logLevel: 'silent',
    metafile: true,
  });
  const nodeInputs = Object.keys(out.metafile.inputs).filter((i) => i.startsWith('node:'));
  if (nodeInputs.length) throw new Error(`the page must not use node: modules (${nodeInputs.join(', ')})`);
  const script = out.outputFiles[0].text.replaceAll('</script', '<\\/script');
  const style = (await readFile(path.join(here, 'src/page.css'), 'utf8')).trim();
  const template = await readFile(path.join(here, 'src/page.html'), 'utf8');
  const html = template
    .replace('__SCRIPT_HASH__', cspHash(script))
    .replace('__STYLE_HASH__', cspHash(style))
    .replace('/*__STYLE__*/', () => style)
    .replace('/*__SCRIPT__*/', () => script);
  return { html, sha256: createHash('sha256').update(html, 'utf8').digest('hex') };
}

/** Writes dist/contrast-verifier.html and its .sha256 next to it. */
export async function writePage(dir = path.join(here, 'dist')) {
  const { html, sha256 } = await buildPage();
  await mkdir(dir, { recursive: true });
  for (const [name, data] of [
    [PAGE_NAME, html],
    [`${PAGE_NAME}.sha256`, `${sha256}  ${PAGE_NAME}\n`],
  ]) {
    const tmp = path.join(dir, `.${name}.tmp`);
    await writeFile(tmp, data);
    await rename(tmp, path.join(dir, name));
  }
  return { file: path.join(dir, PAGE_NAME), sha256 };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { file, sha256 } = await writePage();
  process.stdout.write(`${file}\nsha256 ${sha256}\n`);
}
