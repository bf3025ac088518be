import { mkdtemp, readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deployment } from '@contrast-cc/authority/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { COORDINATOR_NODE_OPTIONS } from './resources.js';
import { coordinatorProcesses } from './test-support/coordinator-process.js';

// Issue #21, finding 1: one unauthenticated 16 MiB body of nested arrays took the Coordinator's
// RSS from 146 MB to about 990 MB and, with the heap sized for the pod's 256Mi limit, killed it.
// Here the Coordinator process runs with the V8 flags its StatefulSet sets (COORDINATOR_NODE_OPTIONS:
// 128 MB old space, 4 MB semi-spaces) and gets the hostile bodies at once, as an outsider would
// send them; it must answer each with an error and keep serving.

const d = deployment(['web']);
const coordinators = coordinatorProcesses(d);
afterAll(() => coordinators.killAll());

const MiB = 1024 * 1024;

/** POSTs `body` (Buffer) over TLS without attestation; resolves with the status (0: connection dropped). */
function post(port: number, route: string, body: Buffer): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: route,
        rejectUnauthorized: false,
        headers: { 'content-type': 'application/json', 'content-length': body.length },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

/** `n` bytes of `open` followed by as many of `close`. */
const nested = (size: number, open = '[', close = ']') =>
  Buffer.concat([Buffer.alloc(size / 2, open), Buffer.alloc(size / 2, close)]);

describe("the Coordinator under its pod's heap flags", () => {
  it('survives a burst of hostile 16 MiB bodies and keeps serving', async () => {
    const storeDir = await mkdtemp(path.join(tmpdir(), 'heap-cap-'));
    const c = await coordinators.start(storeDir, { NODE_OPTIONS: COORDINATOR_NODE_OPTIONS });
    const manifestJson = (inner: Buffer) =>
      Buffer.concat([
        Buffer.from('{"manifest":"'),
        Buffer.from(inner.toString('base64')),
        Buffer.from('","policies":[]}'),
      ]);
    const hostile: [string, Buffer][] = [
      // Deep nesting: JSON.parse would build 8 million arrays.
      ['/v1/manifest', nested(16 * MiB - 2)],
      ['/v1/manifest', nested(16 * MiB - 2, '{"a":', '}')],
      // Millions of small values at depth 2.
      [
        '/v1/manifest',
        Buffer.concat([Buffer.from('['), Buffer.alloc(16 * MiB - 8, '{},'), Buffer.from('{}]')]),
      ],
      // A well-formed request whose manifest (12 MiB once decoded) is the nested one.
      ['/v1/manifest', manifestJson(nested(12 * MiB - 2))],
      [
        '/v1/manifest',
        manifestJson(
          Buffer.concat([Buffer.from('['), Buffer.alloc(12 * MiB - 8, '{},'), Buffer.from('{}]')]),
        ),
      ],
      // Over the limit of the small routes.
      ['/v1/mesh/cert', nested(4 * MiB)],
      ['/v1/recover', nested(4 * MiB)],
    ];
    // Twice over, all at once: more than the shared body budget, so some get 503 at once.
    const statuses = await Promise.all(
      [...hostile, ...hostile].map(([route, body]) => post(c.port, route, body)),
    );
    for (const s of statuses) expect([0, 400, 413, 503]).toContain(s);
    expect(statuses.filter((s) => s === 400).length).toBeGreaterThan(0);
    expect(c.p.child.exitCode).toBeNull();
    // Still serving: an attested client reads the state and sets the first manifest.
    const client = await coordinators.client(c.port);
    expect((await client.state()).status).toBe('uninitialized');
    const set = await client.setManifest({ manifest: d.manifest, policies: d.policies });
    expect(set.transition_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(c.p.stderr.join('')).not.toMatch(/heap limit|out of memory/i);
    // For the record (issue #21 memory item): peak and current RSS of the process (from source,
    // with the TypeScript loader, so above what the built image uses).
    const status = await readFile(`/proc/${c.p.child.pid}/status`, 'utf8').catch(() => '');
    const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
    if (status)
      console.log(
        `coordinator RSS: peak ${Math.round(kb('VmHWM') / 1024)} MB, now ${Math.round(kb('VmRSS') / 1024)} MB`,
      );
  }, 300_000);
});
