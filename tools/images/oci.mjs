// Deterministic OCI image pieces, no container engine: a tar writer whose bytes depend only on the
// files' relative paths, contents, symlink targets and executable bits (owner 0:0, mtime 0, sorted
// entries, PAX records for long names), a small tar reader (to read a base image's package list),
// and an OCI image layout (blobs by sha256, index.json) that skopeo copies to any registry.
// Layers are stored uncompressed (application/vnd.oci.image.layer.v1.tar): their digest is the tar
// itself, so it cannot change with a compression library's version.
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';

export const MEDIA = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
};

export const sha256 = (data) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** JSON as stored in blobs: compact, keys in insertion order (callers build objects in a fixed order). */
export const jsonBytes = (value) => Buffer.from(JSON.stringify(value));

// ---------------------------------------------------------------------------------------------
// tar writer

/**
 * @typedef {{ path: string; type: 'file'; data: Buffer; executable: boolean }
 *   | { path: string; type: 'dir' }
 *   | { path: string; type: 'symlink'; target: string }} TarEntry
 */

const BLOCK = 512;

function octal(value, width) {
  // width includes the trailing NUL
  const s = value.toString(8);
  if (s.length > width - 1) throw new Error(`tar: value ${value} does not fit ${width - 1} octal digits`);
  return `${s.padStart(width - 1, '0')}\0`;
}

function header({ name, mode, size, type, linkname = '' }) {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(mode, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii'); // uid
  h.write(octal(0, 8), 116, 'ascii'); // gid
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(0, 12), 136, 'ascii'); // mtime: 1970-01-01
  h.write('        ', 148, 'ascii'); // checksum placeholder
  h.write(type, 156, 'ascii');
  h.write(linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  h.write('root', 265, 'ascii');
  h.write('root', 297, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

const pad = (n) => Buffer.alloc((BLOCK - (n % BLOCK)) % BLOCK);

function paxRecord(key, value) {
  // "<len> key=value\n" where len counts itself
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len)
    len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

/**
 * A tar archive of `entries`, byte-identical for identical input: sorted by path, owner 0:0
 * (root), mtime 0, modes 0755 (dirs, executables) / 0644 (files) / 0777 (symlinks).
 * @param {TarEntry[]} entries paths relative, '/'-separated, without leading '/'
 */
export function writeTar(entries) {
  const sorted = [...entries].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  const chunks = [];
  let prev;
  for (const e of sorted) {
    if (e.path === prev) throw new Error(`tar: duplicate path ${e.path}`);
    prev = e.path;
    if (e.path.startsWith('/') || e.path.split('/').includes('..'))
      throw new Error(`tar: bad path ${e.path}`);
    const name = e.type === 'dir' ? `${e.path}/` : e.path;
    const linkname = e.type === 'symlink' ? e.target : '';
    const pax = [];
    if (Buffer.byteLength(name) > 100) pax.push(paxRecord('path', name));
    if (Buffer.byteLength(linkname) > 100) pax.push(paxRecord('linkpath', linkname));
    if (pax.length > 0) {
      const body = Buffer.from(pax.join(''));
      chunks.push(
        header({ name: 'PaxHeader', mode: 0o644, size: body.length, type: 'x' }),
        body,
        pad(body.length),
      );
    }
    const short = (s) =>
      Buffer.byteLength(s) > 100 ? Buffer.from(s).subarray(0, 100).toString('latin1') : s;
    if (e.type === 'file') {
      chunks.push(
        header({ name: short(name), mode: e.executable ? 0o755 : 0o644, size: e.data.length, type: '0' }),
        e.data,
        pad(e.data.length),
      );
    } else if (e.type === 'dir') {
      chunks.push(header({ name: short(name), mode: 0o755, size: 0, type: '5' }));
    } else {
      chunks.push(header({ name: short(name), mode: 0o777, size: 0, type: '2', linkname: short(linkname) }));
    }
  }
  chunks.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(chunks);
}

/**
 * The entries of a directory tree, placed under `prefix` in the archive (its parent directories
 * included). Symlinks are kept as links; a link whose target is absolute is refused (it would
 * point into the build machine), as are files other than regular files, directories and links.
 * @param {string} dir
 * @param {string} prefix e.g. 'app'
 * @returns {TarEntry[]}
 */
export function treeEntries(dir, prefix) {
  /** @type {TarEntry[]} */
  const out = [];
  const parts = prefix.split('/').filter(Boolean);
  for (let i = 1; i <= parts.length; i++) out.push({ path: parts.slice(0, i).join('/'), type: 'dir' });
  const walk = (abs, rel) => {
    for (const name of readdirSync(abs).sort()) {
      const a = path.join(abs, name);
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = lstatSync(a);
      if (st.isSymbolicLink()) {
        const target = readlinkSync(a);
        if (path.isAbsolute(target)) throw new Error(`${a}: symlink to an absolute path (${target})`);
        out.push({ path: r, type: 'symlink', target });
      } else if (st.isDirectory()) {
        out.push({ path: r, type: 'dir' });
        walk(a, r);
      } else if (st.isFile()) {
        out.push({ path: r, type: 'file', data: readFileSync(a), executable: (st.mode & 0o111) !== 0 });
      } else {
        throw new Error(`${a}: not a regular file, directory or symlink`);
      }
    }
  };
  walk(dir, parts.join('/'));
  return out;
}

// ---------------------------------------------------------------------------------------------
// tar reader (enough for the base image's package database)

/**
 * Every regular file of a tar (plain or gzip), with PAX and GNU long names applied.
 * @param {Buffer} archive
 * @param {(name: string) => boolean} want which files' contents to keep
 * @returns {Map<string, Buffer>} path without a leading './' or '/'
 */
export function readTarFiles(archive, want) {
  const buf = archive[0] === 0x1f && archive[1] === 0x8b ? gunzipSync(archive) : archive;
  const files = new Map();
  let off = 0;
  let longName;
  while (off + BLOCK <= buf.length) {
    const h = buf.subarray(off, off + BLOCK);
    if (h.every((b) => b === 0)) break;
    const str = (start, len) => {
      const s = h.subarray(start, start + len);
      const end = s.indexOf(0);
      return s.subarray(0, end === -1 ? len : end).toString('utf8');
    };
    const size = Number.parseInt(str(124, 12).trim() || '0', 8);
    const type = str(156, 1) || '0';
    const prefix = str(345, 155);
    let name = str(257, 6).startsWith('ustar') && prefix ? `${prefix}/${str(0, 100)}` : str(0, 100);
    const body = buf.subarray(off + BLOCK, off + BLOCK + size);
    off += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'x') {
      const m = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(body.toString('utf8'));
      if (m) longName = m[1];
      continue;
    }
    if (type === 'L') {
      longName = body.toString('utf8').replace(/\0+$/, '');
      continue;
    }
    if (type === 'g') continue;
    if (longName !== undefined) {
      name = longName;
      longName = undefined;
    }
    name = name.replace(/^(\.\/|\/)+/, '');
    if ((type === '0' || type === '\0') && want(name)) files.set(name, Buffer.from(body));
  }
  return files;
}

// ---------------------------------------------------------------------------------------------
// OCI image layout

/** An OCI image layout directory: blobs/sha256/<hex>, oci-layout, index.json. */
export class OciLayout {
  /** @param {string} dir */
  constructor(dir) {
    this.dir = dir;
    mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
    writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  }

  blobPath(digest) {
    const m = /^sha256:([0-9a-f]{64})$/.exec(digest);
    if (!m) throw new Error(`not a sha256 digest: ${digest}`);
    return path.join(this.dir, 'blobs', 'sha256', m[1]);
  }

  /** Stores bytes; returns their descriptor. */
  put(mediaType, data) {
    const digest = sha256(data);
    writeFileSync(this.blobPath(digest), data);
    return { mediaType, digest, size: data.length };
  }

  /** A blob's bytes, checked against its digest. */
  get(digest) {
    const data = readFileSync(this.blobPath(digest));
    if (sha256(data) !== digest) throw new Error(`${this.dir}: blob ${digest} does not match its digest`);
    return data;
  }

  getJson(digest) {
    return JSON.parse(this.get(digest).toString('utf8'));
  }

  index() {
    try {
      return JSON.parse(readFileSync(path.join(this.dir, 'index.json'), 'utf8'));
    } catch {
      return { schemaVersion: 2, mediaType: MEDIA.index, manifests: [] };
    }
  }

  /** Names a manifest in index.json (org.opencontainers.image.ref.name), replacing that name. */
  tag(name, descriptor, annotations = {}) {
    const idx = this.index();
    const refName = 'org.opencontainers.image.ref.name';
    idx.manifests = idx.manifests.filter((m) => m.annotations?.[refName] !== name);
    const { mediaType, digest, size } = descriptor;
    idx.manifests.push({ mediaType, digest, size, annotations: { ...annotations, [refName]: name } });
    idx.manifests.sort((a, b) => a.annotations[refName].localeCompare(b.annotations[refName]));
    writeFileSync(path.join(this.dir, 'index.json'), JSON.stringify(idx, null, 2));
  }

  /** The manifest descriptor named `name`, or the only one when name is undefined. */
  resolve(name) {
    const ms = this.index().manifests;
    const hits =
      name === undefined
        ? ms
        : ms.filter((m) => m.annotations?.['org.opencontainers.image.ref.name'] === name);
    if (hits.length !== 1) {
      throw new Error(
        `${this.dir}: ${hits.length} manifests named ${name ?? '(any)'} in index.json, expected 1`,
      );
    }
    return hits[0];
  }
}
