import { ContrastError } from '@contrast-cc/core';

export interface TarEntry {
  /** Path normalized: no leading `./` or `/`. */
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'hardlink' | 'other';
  data: Buffer;
}

function cstr(buf: Buffer, start: number, len: number): string {
  const slice = buf.subarray(start, start + len);
  const nul = slice.indexOf(0);
  return slice.subarray(0, nul < 0 ? slice.length : nul).toString('utf8');
}

function octal(buf: Buffer, start: number, len: number): number {
  const first = buf[start] as number;
  if (first & 0x80) {
    // base-256 (GNU) for large sizes
    let n = 0;
    for (let i = start + 1; i < start + len; i++) n = n * 256 + (buf[i] as number);
    return n;
  }
  const s = cstr(buf, start, len).trim();
  return s === '' ? 0 : Number.parseInt(s, 8);
}

function normalize(p: string): string {
  let out = p;
  while (out.startsWith('./')) out = out.slice(2);
  while (out.startsWith('/')) out = out.slice(1);
  return out.replace(/\/+$/, '');
}

/** Parses a (ustar / GNU / PAX) tar archive held in memory. */
export function* readTar(tar: Buffer): Generator<TarEntry> {
  let off = 0;
  let longName: string | undefined;
  let paxPath: string | undefined;
  while (off + 512 <= tar.length) {
    const h = tar.subarray(off, off + 512);
    if (h.every((b) => b === 0)) return;
    const size = octal(h, 124, 12);
    if (!Number.isFinite(size) || size < 0)
      throw new ContrastError('invalid-argument', `corrupt tar header at ${off}`);
    const flag = String.fromCharCode(h[156] as number);
    const dataStart = off + 512;
    const data = tar.subarray(dataStart, dataStart + size);
    if (data.length !== size) throw new ContrastError('invalid-argument', 'truncated tar archive');
    off = dataStart + Math.ceil(size / 512) * 512;
    if (flag === 'L') {
      longName = cstr(data, 0, data.length);
      continue;
    }
    if (flag === 'x') {
      for (const rec of data.toString('utf8').split('\n')) {
        const m = /^\d+ path=(.*)$/.exec(rec);
        if (m) paxPath = m[1];
      }
      continue;
    }
    if (flag === 'g') continue;
    const magic = cstr(h, 257, 6);
    const prefix = magic.startsWith('ustar') ? cstr(h, 345, 155) : '';
    const name = paxPath ?? longName ?? (prefix ? `${prefix}/${cstr(h, 0, 100)}` : cstr(h, 0, 100));
    longName = undefined;
    paxPath = undefined;
    const type =
      flag === '0' || flag === '\0' || flag === '7'
        ? 'file'
        : flag === '5'
          ? 'dir'
          : flag === '2'
            ? 'symlink'
            : flag === '1'
              ? 'hardlink'
              : 'other';
    yield { path: normalize(name), type, data };
  }
}
