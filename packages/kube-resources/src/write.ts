import type { PatchedFile } from './pipeline.js';

/**
 * All patched resources as one YAML stream (for `-o FILE`): every input file in order, separated
 * by `---`, each file's bytes as written (a missing final line break added, in the file's own
 * line ending; the separator in the line ending of the file it introduces).
 */
export function joinResourceFiles(files: readonly PatchedFile[]): string {
  let out = '';
  for (const f of files) {
    let text = f.text;
    if (text.trim() === '') continue;
    const nl = text.includes('\r\n') ? '\r\n' : '\n';
    if (!text.endsWith('\n')) text += nl;
    if (out !== '' && !/^---/.test(text)) out += `---${nl}`;
    out += text;
  }
  return out;
}
