import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parsePeerList, staticPeers } from './index.js';

describe('static peers', () => {
  it('parses host:port lists, IPv6 in brackets', () => {
    expect(parsePeerList('10.0.0.1:1314, coordinator-1.coordinator:1314,[::1]:7000')).toEqual([
      { host: '10.0.0.1', port: 1314 },
      { host: 'coordinator-1.coordinator', port: 1314 },
      { host: '::1', port: 7000 },
    ]);
  });

  it('refuses malformed entries naming the entry', () => {
    for (const [text, field] of [
      ['10.0.0.1', 'peers[0]'],
      ['a:1314,b:0', 'peers[1]'],
      ['a:1314,b:65536', 'peers[1]'],
      ['::1:1314', 'peers[0]'],
      ['[zz::1]:1314', 'peers[0]'],
      [' , ', 'peers'],
    ] as const) {
      expect(() => parsePeerList(text), text).toThrow(
        expect.objectContaining({ code: 'invalid-argument', field }),
      );
    }
    // Positions count empty entries: the bad entry is the third in the text.
    expect(() => parsePeerList('a:1,,b:x')).toThrow(expect.objectContaining({ field: 'peers[2]' }));
    expect(() => staticPeers([{ host: '', port: 1 }])).toThrow(
      expect.objectContaining({ field: 'peers[0]' }),
    );
  });

  it('skips empty entries (a trailing comma)', () => {
    expect(parsePeerList('127.0.0.1:1, ,[::1]:2,')).toEqual([
      { host: '127.0.0.1', port: 1 },
      { host: '::1', port: 2 },
    ]);
  });

  it('returns copies of the list', async () => {
    const source = staticPeers(['127.0.0.1:1', { host: '::1', port: 2, name: 'b' }]);
    const first = await source.peers();
    first[0]!.port = 99;
    expect(await source.peers()).toEqual([
      { host: '127.0.0.1', port: 1 },
      { host: '::1', port: 2, name: 'b' },
    ]);
  });
});

// The `./peers` entry goes into bundles that must not carry the Kubernetes client (the CLI's
// self-contained build forbids it). Follow the runtime imports of the entry's sources (type-only
// imports are erased) and list the packages they reach.
const here = path.dirname(fileURLToPath(import.meta.url));
const RUNTIME_IMPORT =
  /(?:^|[;\n])\s*(?:import|export)\s+(?!type[\s{])(?:[\w*{][^;]*?\s+from\s+)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

function packagesReachedFrom(entry: string): Set<string> {
  const packages = new Set<string>();
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(RUNTIME_IMPORT)) {
      const spec = (m[1] ?? m[2])!;
      if (spec.startsWith('.')) visit(path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts')));
      else packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
    }
  };
  visit(entry);
  return packages;
}

describe('the kube-free ./peers entry', () => {
  const builtin = (p: string) => p.startsWith('node:') || builtinModules.includes(p);

  it('reaches no package but @contrast-cc/core and Node built-ins', () => {
    const reached = [...packagesReachedFrom(path.join(here, 'index.ts'))].filter((p) => !builtin(p));
    expect(reached).toEqual(['@contrast-cc/core']);
  });

  it('the check sees the Kubernetes client where it is imported at run time, and nowhere in this package', () => {
    // The positive control: the store's fake API server builds a real KubeConfig.
    const fake = path.join(here, '..', '..', '..', 'store', 'src', 'testing', 'fake-kube-api.ts');
    expect(packagesReachedFrom(fake)).toContain('@kubernetes/client-node');
    // kubernetesPeers talks to the API server through the store's small REST client; a KubeConfig
    // is accepted by type only (the caller loads client-node for it).
    expect(packagesReachedFrom(path.join(here, '..', 'index.ts'))).not.toContain('@kubernetes/client-node');
    // Nor does the store's main entry (ConfigMap store and its REST client): in a pod the
    // Coordinator would pay about 75 MB of RSS for the generated client (issue #21, memory).
    const store = path.join(here, '..', '..', '..', 'store', 'src', 'index.ts');
    expect(packagesReachedFrom(store)).toContain('@contrast-cc/core');
    expect(packagesReachedFrom(store)).not.toContain('@kubernetes/client-node');
    // The server entry reaches the peer sources by type only: no Kubernetes client either.
    expect(packagesReachedFrom(path.join(here, '..', 'server', 'index.ts'))).not.toContain(
      '@kubernetes/client-node',
    );
  });
});
