import { ContrastError } from '@contrast-cc/core';

export interface TarEntry {
  /** Path normalized: no leading `./` or `/`. */
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'hardlink' | 'other';
  /** The entry's content when the reader was asked to keep it; empty otherwise. */
  data: Buffer;
}

const BLOCK = 512;
/** The most a long-name ('L') or PAX ('x') header may hold: names, not data. */
const MAX_META_BYTES = 1024 * 1024;

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
  return s === '' ? 0 : /^[0-7]+$/.test(s) ? Number.parseInt(s, 8) : Number.NaN;
}

function normalize(p: string): string {
  let out = p;
  while (out.startsWith('./')) out = out.slice(2);
  while (out.startsWith('/')) out = out.slice(1);
  return out.replace(/\/+$/, '');
}

function typeOf(flag: string): TarEntry['type'] {
  if (flag === '0' || flag === '\0' || flag === '7') return 'file';
  if (flag === '5') return 'dir';
  if (flag === '2') return 'symlink';
  if (flag === '1') return 'hardlink';
  return 'other';
}

/** The entry being read: its header's facts, and its content when kept. */
interface OpenEntry {
  flag: string;
  path: string;
  type: TarEntry['type'];
  size: number;
  kept?: Buffer[];
}

/**
 * A (ustar / GNU / PAX) tar archive read as it arrives, chunk by chunk, in constant memory: every
 * entry is reported with its path and type, and with its content only when `keep(path, type)`
 * asks for it (up to `maxKeptBytes`, else `invalid-argument`). A layer of gigabytes is scanned for
 * its /etc/passwd without ever being held.
 */
export class TarStreamReader {
  readonly #keep: (path: string, type: TarEntry['type']) => boolean;
  readonly #onEntry: (entry: TarEntry) => void;
  readonly #maxKept: number;
  #header = Buffer.alloc(BLOCK);
  #headerFill = 0;
  /** Content bytes of the current entry still to come, then its padding to skip. */
  #remaining = 0;
  #padding = 0;
  #offset = 0;
  #current: OpenEntry | undefined;
  #longName: string | undefined;
  #paxPath: string | undefined;
  #ended = false;

  constructor(
    keep: (path: string, type: TarEntry['type']) => boolean,
    onEntry: (entry: TarEntry) => void,
    maxKeptBytes = 4 * 1024 * 1024,
  ) {
    this.#keep = keep;
    this.#onEntry = onEntry;
    this.#maxKept = maxKeptBytes;
  }

  /** Feeds the next bytes of the archive. */
  push(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length && !this.#ended) {
      if (this.#current) {
        const n = Math.min(this.#remaining, chunk.length - i);
        this.#current.kept?.push(chunk.subarray(i, i + n));
        this.#remaining -= n;
        i += n;
        if (this.#remaining === 0) this.#finishEntry();
      } else if (this.#padding > 0) {
        const n = Math.min(this.#padding, chunk.length - i);
        this.#padding -= n;
        i += n;
      } else {
        const n = Math.min(BLOCK - this.#headerFill, chunk.length - i);
        chunk.copy(this.#header, this.#headerFill, i, i + n);
        this.#headerFill += n;
        i += n;
        if (this.#headerFill === BLOCK) {
          this.#headerFill = 0;
          this.#startEntry();
        }
      }
    }
  }

  /** The archive ended: an entry cut short is an error (a missing end-of-archive marker is not). */
  end(): void {
    if (this.#current && this.#remaining > 0) {
      throw new ContrastError('invalid-argument', 'truncated tar archive');
    }
  }

  #startEntry(): void {
    const h = this.#header;
    const at = this.#offset;
    this.#offset += BLOCK;
    if (h.every((b) => b === 0)) {
      this.#ended = true;
      return;
    }
    const size = octal(h, 124, 12);
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new ContrastError('invalid-argument', `corrupt tar header at ${at}`);
    }
    const flag = String.fromCharCode(h[156] as number);
    let path = '';
    let type: TarEntry['type'] = 'other';
    let keep: boolean;
    if (flag === 'L' || flag === 'x' || flag === 'g') {
      if (size > MAX_META_BYTES) {
        throw new ContrastError('invalid-argument', `tar header at ${at} holds ${size} bytes of names`);
      }
      keep = flag !== 'g';
    } else {
      const magic = cstr(h, 257, 6);
      const prefix = magic.startsWith('ustar') ? cstr(h, 345, 155) : '';
      const name =
        this.#paxPath ?? this.#longName ?? (prefix ? `${prefix}/${cstr(h, 0, 100)}` : cstr(h, 0, 100));
      this.#longName = undefined;
      this.#paxPath = undefined;
      path = normalize(name);
      type = typeOf(flag);
      keep = this.#keep(path, type);
      if (keep && size > this.#maxKept) {
        throw new ContrastError(
          'invalid-argument',
          `tar entry ${path} has ${size} bytes, more than the ${this.#maxKept} read`,
        );
      }
    }
    this.#current = { flag, path, type, size, ...(keep ? { kept: [] } : {}) };
    this.#remaining = size;
    this.#padding = Math.ceil(size / BLOCK) * BLOCK - size;
    this.#offset += size + this.#padding;
    if (size === 0) this.#finishEntry();
  }

  #finishEntry(): void {
    const e = this.#current as OpenEntry;
    this.#current = undefined;
    const data = e.kept ? Buffer.concat(e.kept, e.size) : Buffer.alloc(0);
    if (e.flag === 'L') {
      this.#longName = cstr(data, 0, data.length);
      return;
    }
    if (e.flag === 'x') {
      for (const rec of data.toString('utf8').split('\n')) {
        const m = /^\d+ path=(.*)$/.exec(rec);
        if (m) this.#paxPath = m[1];
      }
      return;
    }
    if (e.flag === 'g') return;
    this.#onEntry({ path: e.path, type: e.type, data });
  }
}
