import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

export const REGISTRY_BIN = process.env.DOCKER_REGISTRY_BIN ?? '/usr/bin/docker-registry';
export const HAS_REGISTRY = existsSync(REGISTRY_BIN);

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** A real Debian `docker-registry` on 127.0.0.1 with filesystem storage in a temp dir. */
export class LocalRegistry {
  readonly host: string;
  readonly root: string;
  readonly #proc: ChildProcess;
  private constructor(host: string, root: string, proc: ChildProcess) {
    this.host = host;
    this.root = root;
    this.#proc = proc;
  }

  static async start(): Promise<LocalRegistry> {
    const root = await mkdtemp(path.join(os.tmpdir(), 'contrast-registry-'));
    const port = await freePort();
    const host = `127.0.0.1:${port}`;
    const config = path.join(root, 'config.yml');
    await writeFile(
      config,
      `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${path.join(root, 'data')}\nhttp:\n  addr: ${host}\n`,
    );
    const proc = spawn(REGISTRY_BIN, ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const reg = new LocalRegistry(host, root, proc);
    for (let i = 0; i < 100; i++) {
      try {
        const res = await fetch(`http://${host}/v2/`);
        if (res.ok) return reg;
      } catch {
        // not up yet
      }
      if (proc.exitCode !== null) throw new Error(`docker-registry exited: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await reg.stop();
    throw new Error(`docker-registry did not start: ${stderr}`);
  }

  async stop(): Promise<void> {
    if (this.#proc.exitCode === null) {
      const exited = new Promise((r) => this.#proc.once('exit', r));
      this.#proc.kill('SIGTERM');
      await exited;
    }
    await rm(this.root, { recursive: true, force: true });
  }

  /** Path of a blob's data file in the filesystem storage (to tamper with it in tests). */
  blobPath(digest: string): string {
    const hex = digest.replace('sha256:', '');
    return path.join(this.root, 'data/docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
  }

  async pushBlob(repo: string, data: Uint8Array): Promise<string> {
    const digest = sha256(data);
    const start = await fetch(`http://${this.host}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    if (start.status !== 202) throw new Error(`upload start: ${start.status}`);
    const loc = new URL(start.headers.get('location') as string, `http://${this.host}`);
    loc.searchParams.set('digest', digest);
    const put = await fetch(loc, {
      method: 'PUT',
      body: data as unknown as BodyInit,
      headers: { 'content-type': 'application/octet-stream' },
    });
    if (put.status !== 201) throw new Error(`upload put: ${put.status} ${await put.text()}`);
    return digest;
  }

  async pushManifest(repo: string, reference: string, manifest: unknown, mediaType: string): Promise<string> {
    return (await this.#putManifest(repo, reference, manifest, mediaType)).digest;
  }

  async #putManifest(
    repo: string,
    reference: string,
    manifest: unknown,
    mediaType: string,
  ): Promise<{ digest: string; size: number }> {
    const body = Buffer.from(JSON.stringify(manifest));
    const res = await fetch(`http://${this.host}/v2/${repo}/manifests/${reference}`, {
      method: 'PUT',
      body,
      headers: { 'content-type': mediaType },
    });
    if (res.status !== 201) throw new Error(`manifest put: ${res.status} ${await res.text()}`);
    return { digest: sha256(body), size: body.length };
  }

  /**
   * Pushes an OCI image index (a multi-platform image) naming manifests already pushed, each with
   * its platform; returns the index digest.
   */
  async pushIndex(
    repo: string,
    tag: string,
    manifests: Array<{ digest: string; size: number; architecture: string; os?: string }>,
  ): Promise<string> {
    return this.pushManifest(
      repo,
      tag,
      {
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: manifests.map((m) => ({
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: m.digest,
          size: m.size,
          platform: { os: m.os ?? 'linux', architecture: m.architecture },
        })),
      },
      'application/vnd.oci.image.index.v1+json',
    );
  }

  /** Builds and pushes an image from layers given as {path: content|null (whiteout)}. */
  async pushImage(
    repo: string,
    tag: string,
    config: Record<string, unknown>,
    layers: Array<Record<string, string>>,
  ): Promise<{ digest: string; size: number; configDigest: string; layerDigests: string[] }> {
    const diffIds: string[] = [];
    const layerDescs: Array<{ mediaType: string; digest: string; size: number }> = [];
    for (const files of layers) {
      const tar = makeTar(files);
      diffIds.push(sha256(tar));
      const gz = gzipSync(tar);
      layerDescs.push({
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        digest: await this.pushBlob(repo, gz),
        size: gz.length,
      });
    }
    const configBytes = Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config,
        rootfs: { type: 'layers', diff_ids: diffIds },
      }),
    );
    const configDigest = await this.pushBlob(repo, configBytes);
    const { digest, size } = await this.#putManifest(
      repo,
      tag,
      {
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: {
          mediaType: 'application/vnd.oci.image.config.v1+json',
          digest: configDigest,
          size: configBytes.length,
        },
        layers: layerDescs,
      },
      'application/vnd.oci.image.manifest.v1+json',
    );
    return { digest, size, configDigest, layerDigests: layerDescs.map((l) => l.digest) };
  }
}

export function sha256(b: Uint8Array): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

/**
 * One tar entry (header, content, padding to 512 bytes): `flag` is the ustar typeflag ('0' file,
 * '5' directory, 'L' GNU long name, 'x' PAX header, ...); the name field holds at most 99 bytes.
 */
export function tarEntry(name: string, flag: string, content: string | Uint8Array): Buffer[] {
  const data = Buffer.from(content);
  const h = Buffer.alloc(512);
  h.write(name.slice(0, 99), 0, 100);
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write(flag, 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return [h, data, Buffer.alloc((512 - (data.length % 512)) % 512)];
}

/** A minimal ustar writer: regular files (and empty-content whiteout files), then the end marker. */
export function makeTar(files: Record<string, string>): Buffer {
  return Buffer.concat([
    ...Object.entries(files).flatMap(([name, content]) => tarEntry(name, '0', content)),
    Buffer.alloc(1024),
  ]);
}
