import { createHash } from 'node:crypto';
import type { RuntimeAssets } from './runtime-assets.js';

/**
 * The canonical bytes of a runtime, the input of its runtime hash. UTF-8 text, one record per
 * line, fields separated by a TAB, every line ended by LF:
 *
 * ```
 * contrast-runtime/v1
 * platform	<platform id>
 * file	<path>	<integrity>	<x | ->          one line per file, sorted by path (code units)
 * kernel-params	<kernel command line>
 * vm-memory-mib	<decimal>
 * ```
 *
 * Only what changes the runtime on the node enters: the placed files (by integrity) and the VM
 * settings. Image references do not (they only deliver the files), so mirroring an image keeps
 * the handler name.
 * @public
 */
export function canonicalRuntimeBytes(platformId: string, assets: RuntimeAssets): Uint8Array {
  const clean = (s: string, what: string) => {
    if (/[\t\n\r]/.test(s)) throw new Error(`${what} must not contain TAB or line breaks`);
    return s;
  };
  const files = [...assets.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const lines = [
    'contrast-runtime/v1',
    `platform\t${clean(platformId, 'platform id')}`,
    ...files.map(
      (f) =>
        `file\t${clean(f.path, 'path')}\t${clean(f.integrity, 'integrity')}\t${f.executable ? 'x' : '-'}`,
    ),
    `kernel-params\t${clean(assets.kernelParams, 'kernel params')}`,
    `vm-memory-mib\t${assets.vmMemoryMiB}`,
  ];
  return new TextEncoder().encode(`${lines.join('\n')}\n`);
}

/** sha256 (lower-case hex) of {@link canonicalRuntimeBytes}. @public */
export function runtimeHash(platformId: string, assets: RuntimeAssets): string {
  return createHash('sha256').update(canonicalRuntimeBytes(platformId, assets)).digest('hex');
}
