import type { PatchedFile } from './pipeline.js';

/**
 * All patched resources as one YAML stream (for `-o FILE`): every input file in order, separated
 * by `---`.
 */
export function joinResourceFiles(files: readonly PatchedFile[]): string {
  let out = '';
  for (const f of files) {
    let text = f.text;
    if (text.trim() === '') continue;
    if (!text.endsWith('\n')) text += '\n';
    if (out !== '' && !/^---/.test(text)) out += '---\n';
    out += text;
  }
  return out;
}
