import { describe, expect, it } from 'vitest';
import { type TarEntry, TarStreamReader } from './tar.js';
import { makeTar, tarEntry } from './testing/registry.js';

const entry = tarEntry;

const LONG = `usr/share/${'very-long-directory-name/'.repeat(8)}etc-lookalike`;
const PAX = `opt/${'pax-named/'.repeat(12)}file`;
const ARCHIVE = Buffer.concat([
  makeTar({ 'etc/hostname': 'box\n', './etc/passwd': 'root:x:0:0::/root:/bin/sh\n' }).subarray(0, -1024),
  ...entry('././@LongLink', 'L', Buffer.from(`${LONG}\0`)),
  ...entry('ignored', '0', Buffer.from('long-named content')),
  ...entry('PaxHeader', 'x', Buffer.from(`${PAX.length + 10} path=${PAX}\n`)),
  ...entry('ignored-too', '0', Buffer.from('pax-named content')),
  ...entry('etc', '5', Buffer.alloc(0)),
  ...entry('etc/group', '0', Buffer.from('root:x:0:\n')),
  Buffer.alloc(1024),
  Buffer.from('trailing bytes after the end-of-archive marker are not entries'),
]);

function read(chunks: Buffer[], keep = (p: string) => p.startsWith('etc/') || p.includes('named')) {
  const out: Array<Pick<TarEntry, 'path' | 'type'> & { data: string }> = [];
  const r = new TarStreamReader(keep, (e) =>
    out.push({ path: e.path, type: e.type, data: e.data.toString() }),
  );
  for (const c of chunks) r.push(c);
  r.end();
  return out;
}

describe('TarStreamReader', () => {
  const whole = read([ARCHIVE]);

  it('reads ustar, GNU long names and PAX paths, keeping only the content asked for', () => {
    expect(whole).toEqual([
      { path: 'etc/hostname', type: 'file', data: 'box\n' },
      { path: 'etc/passwd', type: 'file', data: 'root:x:0:0::/root:/bin/sh\n' },
      { path: LONG, type: 'file', data: '' },
      { path: PAX, type: 'file', data: 'pax-named content' },
      { path: 'etc', type: 'dir', data: '' },
      { path: 'etc/group', type: 'file', data: 'root:x:0:\n' },
    ]);
  });

  it('gives the same entries however the stream is cut', () => {
    for (const size of [1, 7, 511, 512, 513, 4096]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < ARCHIVE.length; i += size) chunks.push(ARCHIVE.subarray(i, i + size));
      expect(read(chunks)).toEqual(whole);
    }
  });

  it('refuses an archive cut inside an entry, a corrupt size and a kept entry over its limit', () => {
    const passwdAt = ARCHIVE.indexOf('root:x:0:0');
    expect(() => read([ARCHIVE.subarray(0, passwdAt + 5)])).toThrow(/truncated tar archive/);
    const corrupt = Buffer.from(ARCHIVE);
    corrupt.write('9zz', 124);
    expect(() => read([corrupt])).toThrow(/corrupt tar header at 0/);
    // Everything kept, 8 bytes at most: etc/hostname (4) passes, etc/passwd (26) does not.
    const r = new TarStreamReader(
      () => true,
      () => undefined,
      8,
    );
    expect(() => r.push(ARCHIVE)).toThrow('tar entry etc/passwd has 26 bytes, more than the 8 read');
    const big = Buffer.concat(entry('etc/passwd', '0', Buffer.alloc(100, 0x61)));
    expect(() =>
      new TarStreamReader(
        () => true,
        () => undefined,
        64,
      ).push(big),
    ).toThrow('tar entry etc/passwd has 100 bytes, more than the 64 read');
  });
});
