// The one Node module hook for test child processes of every package: loads our TypeScript sources by
// transpiling them with the workspace's TypeScript (no type check) and maps `./x.js` imports to
// `./x.ts`. Output is cached by content hash in the temp dir, so only the first child pays for
// loading the compiler. Used as:
//   node --conditions=@contrast-cc/source --import <@contrast-cc/build-config/ts-register> file.ts
// (resolve the path with createRequire(import.meta.url).resolve('@contrast-cc/build-config/ts-register')).
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

const cacheDir = path.join(tmpdir(), 'contrast-ts-loader');
let ts;

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    if (error?.code === 'ERR_MODULE_NOT_FOUND' && /^\.{1,2}\/.*\.js$/.test(specifier)) {
      return nextResolve(specifier.replace(/\.js$/, '.ts'), context);
    }
    throw error;
  }
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return nextLoad(url, context);
  const source = await readFile(new URL(url), 'utf8');
  const cached = path.join(cacheDir, `${createHash('sha256').update(url).update(source).digest('hex')}.js`);
  try {
    return { format: 'module', source: await readFile(cached, 'utf8'), shortCircuit: true };
  } catch {}
  ts ??= (await import('typescript')).default;
  const out = ts.transpileModule(source, {
    fileName: url,
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      verbatimModuleSyntax: true,
      sourceMap: false,
    },
  }).outputText;
  await mkdir(cacheDir, { recursive: true });
  const tmp = `${cached}.${process.pid}.tmp`;
  await writeFile(tmp, out);
  await rename(tmp, cached);
  return { format: 'module', source: out, shortCircuit: true };
}
