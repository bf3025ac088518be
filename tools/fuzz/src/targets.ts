// The fuzz targets: each turns generated input into a call of one parser, verifier or endpoint,
// and fails (a "crash") when the code under test does anything but return or refuse with its
// documented error. Inputs are mostly mutations of valid documents (the simulator's SNP report
// and TDX quote with their collateral, a valid manifest), so they get past the first length check.
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createSimulatedSnpIssuer, parseSnpReport } from '@contrast-cc/attestation/snp';
import {
  createSimulatedTdxIssuer,
  parseCcelEventLog,
  parseTdxQuote,
  verifyTdxQuote,
} from '@contrast-cc/attestation/tdx';
import { type RunningCoordinator, startCoordinator } from '@contrast-cc/authority/server';
import { deployment, podIssuer, registry } from '@contrast-cc/authority/testing';
import { isContrastError } from '@contrast-cc/core';
import { parseResourceText } from '@contrast-cc/kube-resources';
import { parseManifest } from '@contrast-cc/manifest';
import { TarStreamReader } from '@contrast-cc/oci';
import { tarEntry } from '@contrast-cc/oci/testing';
import { RegoEngine } from '@contrast-cc/rego';
import { DirectoryHistoryStore } from '@contrast-cc/store';
import fc from 'fast-check';

/** One fuzz target: an input generator and what is done with each input. */
export interface FuzzTarget<T = unknown> {
  name: string;
  /** Builds the fixtures (valid documents, a live server); the returned close releases them. */
  setup(): Promise<{
    arbitrary: fc.Arbitrary<T>;
    run(input: T): void | Promise<void>;
    close?(): Promise<void>;
  }>;
}

/** What a refusal must look like: a ContrastError (its subclasses included). */
function refusedProperly(e: unknown): void {
  if (!isContrastError(e)) {
    throw new Error(`not a ContrastError: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  }
}

function parseOrRefuse(parse: () => unknown): void {
  try {
    parse();
  } catch (e) {
    refusedProperly(e);
  }
}

/** Byte mutations of `seed`: flips, overwrites, truncation and extension, 1-8 at a time. */
export function mutatedBytes(seed: Uint8Array): fc.Arbitrary<Uint8Array> {
  const edit = fc.oneof(
    fc.record({
      kind: fc.constant('set' as const),
      at: fc.nat(seed.length - 1),
      value: fc.integer({ min: 0, max: 255 }),
    }),
    fc.record({
      kind: fc.constant('flip' as const),
      at: fc.nat(seed.length - 1),
      bit: fc.integer({ min: 0, max: 7 }),
    }),
    fc.record({
      kind: fc.constant('u32' as const),
      at: fc.nat(seed.length - 4),
      value: fc.constantFrom(0, 1, 0x7fffffff, 0xffffffff, 0x80000000, seed.length),
    }),
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat(seed.length) }),
    fc.record({ kind: fc.constant('grow' as const), extra: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
  );
  return fc.array(edit, { minLength: 1, maxLength: 8 }).map((edits) => {
    let b = new Uint8Array(seed);
    for (const e of edits) {
      if (e.kind === 'set' && e.at < b.length) b[e.at] = e.value;
      else if (e.kind === 'flip' && e.at < b.length) b[e.at]! ^= 1 << e.bit;
      else if (e.kind === 'u32' && e.at + 4 <= b.length)
        new DataView(b.buffer).setUint32(e.at, e.value, true);
      else if (e.kind === 'cut') b = b.slice(0, e.at);
      else if (e.kind === 'grow') b = new Uint8Array([...b, ...e.extra]);
    }
    return b;
  });
}

/** A JSON document with random subtrees replaced by arbitrary JSON values. */
function mutatedJson(seed: unknown): fc.Arbitrary<unknown> {
  const paths: (string | number)[][] = [];
  const walk = (v: unknown, at: (string | number)[]) => {
    paths.push(at);
    if (Array.isArray(v)) {
      for (const [i, x] of v.entries()) walk(x, [...at, i]);
    } else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...at, k]);
  };
  walk(seed, []);
  return fc
    .array(fc.tuple(fc.constantFrom(...paths), fc.jsonValue({ maxDepth: 3 })), { minLength: 1, maxLength: 4 })
    .map((edits) => {
      let doc: unknown = structuredClone(seed);
      for (const [at, value] of edits) {
        if (at.length === 0) {
          doc = value;
          continue;
        }
        let parent = doc as Record<string | number, unknown> | null;
        for (const k of at.slice(0, -1))
          parent = (parent?.[k] ?? null) as Record<string | number, unknown> | null;
        if (parent && typeof parent === 'object') parent[at.at(-1)!] = value;
      }
      return doc;
    });
}

const snpReport: FuzzTarget<Uint8Array> = {
  name: 'snp-report',
  async setup() {
    const issuer = await createSimulatedSnpIssuer();
    const valid = issuer.report(new Uint8Array(64).fill(7));
    return {
      arbitrary: fc.oneof(mutatedBytes(valid), fc.uint8Array({ maxLength: 2048 })),
      run: (bytes) => parseOrRefuse(() => parseSnpReport(bytes)),
    };
  },
};

const tdxQuote: FuzzTarget<Uint8Array> = {
  name: 'tdx-quote',
  async setup() {
    const sim = await createSimulatedTdxIssuer();
    const valid = sim.quote(new Uint8Array(64).fill(7));
    return {
      arbitrary: fc.oneof({ weight: 4, arbitrary: mutatedBytes(valid) }, fc.uint8Array({ maxLength: 8192 })),
      run: (bytes) => {
        parseOrRefuse(() => parseTdxQuote(bytes));
        // The verifier returns a result for any bytes; it never throws.
        const r = verifyTdxQuote(bytes, { trustAnchors: sim.trustAnchors });
        if (typeof r.ok !== 'boolean') throw new Error('the verifier returned no result');
      },
    };
  },
};

const ccel: FuzzTarget<Uint8Array> = {
  name: 'tdx-ccel-log',
  async setup() {
    return {
      arbitrary: fc.uint8Array({ maxLength: 4096 }),
      run: (bytes) => parseOrRefuse(() => parseCcelEventLog(bytes)),
    };
  },
};

const collateral: FuzzTarget<{ doc: 'tcbInfo' | 'qeIdentity'; bytes: Uint8Array }> = {
  name: 'tdx-collateral-json',
  async setup() {
    const sim = await createSimulatedTdxIssuer();
    const quote = sim.quote(new Uint8Array(64).fill(7));
    const valid = await sim.createCollateral();
    const text = (b: Uint8Array) => new TextDecoder().decode(b);
    const docs = { tcbInfo: valid.tcbInfo, qeIdentity: valid.qeIdentity };
    const asJson = (doc: 'tcbInfo' | 'qeIdentity') =>
      mutatedJson(JSON.parse(text(docs[doc]))).map((v) =>
        new TextEncoder().encode(JSON.stringify(v) ?? 'null'),
      );
    const arbitrary = fc.constantFrom('tcbInfo' as const, 'qeIdentity' as const).chain((doc) =>
      fc.record({
        doc: fc.constant(doc),
        bytes: fc.oneof(mutatedBytes(docs[doc]), asJson(doc), fc.uint8Array({ maxLength: 512 })),
      }),
    );
    return {
      arbitrary,
      run: ({ doc, bytes }) => {
        const r = verifyTdxQuote(quote, {
          trustAnchors: sim.trustAnchors,
          collateral: { ...valid, [doc]: bytes },
        });
        if (typeof r.ok !== 'boolean') throw new Error('the verifier returned no result');
      },
    };
  },
};

const manifest: FuzzTarget<Uint8Array | unknown> = {
  name: 'manifest',
  async setup() {
    const valid = deployment(['web', 'db']).manifestJson;
    const bytes = new TextEncoder().encode(JSON.stringify(valid));
    return {
      arbitrary: fc.oneof(
        mutatedBytes(bytes),
        mutatedJson(valid),
        fc.jsonValue({ maxDepth: 4 }),
        fc.string({ maxLength: 256 }),
      ),
      run: (input) => parseOrRefuse(() => parseManifest(input)),
    };
  },
};

/** Text edits: characters or snippets inserted, deleted or replaced, 1-6 at a time. */
function mutatedText(seed: string, snippets: readonly string[]): fc.Arbitrary<string> {
  const edit = fc.record({
    at: fc.nat(seed.length),
    cut: fc.nat(8),
    insert: fc.oneof(fc.constantFrom(...snippets), fc.string({ maxLength: 4 })),
  });
  return fc.array(edit, { minLength: 1, maxLength: 6 }).map((edits) => {
    let t = seed;
    for (const e of edits) {
      const at = Math.min(e.at, t.length);
      t = t.slice(0, at) + e.insert + t.slice(at + e.cut);
    }
    return t;
  });
}

const REGO_POLICY = `package t

import rego.v1

default allow := false

allow if {
  input.kind == "CreateContainerRequest"
  some c in data.containers
  c.name == input.name
  startswith(input.image, c.prefix)
  count([x | some x in input.args; x != ""]) <= 3
}

names contains n if {
  some c in data.containers
  n := sprintf("%s-%d", [c.name, c.index])
}

r := {"allow": allow, "names": names, "n": to_number("42"), "re": regex.match("^a.*", input.name)}
`;

const rego: FuzzTarget<{ text: string; input: unknown }> = {
  name: 'rego',
  async setup() {
    const data = { containers: [{ name: 'web', prefix: 'registry/web', index: 1 }] };
    const snippets = [
      '{',
      '}',
      '[',
      ']',
      '(',
      ')',
      ' if ',
      ' some ',
      ' in ',
      ' := ',
      ' == ',
      '"',
      'input.',
      'data.',
      ' every ',
      ' not ',
      '\n',
      ';',
      ' with ',
      ' else ',
      '.',
      '*',
      '|',
    ];
    const input = fc.oneof(
      fc.constant({ kind: 'CreateContainerRequest', name: 'web', image: 'registry/web:1', args: ['a'] }),
      fc.jsonValue({ maxDepth: 3 }),
    );
    return {
      arbitrary: fc.record({
        text: fc.oneof({ weight: 4, arbitrary: mutatedText(REGO_POLICY, snippets) }, fc.string()),
        input,
      }),
      run: ({ text, input }) =>
        parseOrRefuse(() => {
          const engine = new RegoEngine();
          engine.setData(data as never);
          engine.setInput(JSON.parse(JSON.stringify(input ?? null)));
          engine.addPolicy('fuzz', text);
          engine.evalRule('data.t.r');
          engine.evalRule('data.t.allow');
        }),
    };
  },
};

const DEPLOYMENT_YAML = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  annotations:
    contrast.edgeless.systems/pod-role: ""
spec:
  replicas: 2
  selector:
    matchLabels: { app: web }
  template:
    metadata:
      labels: { app: web }
    spec:
      runtimeClassName: contrast-cc
      containers:
        - name: web
          image: registry.example/web@sha256:${'ab'.repeat(32)}
          args: ["--port", "8080"]
          env:
            - { name: MODE, value: prod }
---
apiVersion: v1
kind: Service
metadata: { name: web }
spec:
  ports: [{ port: 443, targetPort: 8080 }]
`;

const yaml: FuzzTarget<string> = {
  name: 'yaml-resources',
  async setup() {
    const snippets = [
      ': ',
      '- ',
      '\n',
      '  ',
      '---\n',
      '{',
      '}',
      '[',
      ']',
      '&a ',
      '*a',
      '!!binary ',
      '"',
      "'",
      '<<: *a',
      '? ',
      '|',
      '>',
      '#',
    ];
    return {
      arbitrary: fc.oneof(
        { weight: 4, arbitrary: mutatedText(DEPLOYMENT_YAML, snippets) },
        fc.string({ maxLength: 256 }),
      ),
      run: (text) => parseOrRefuse(() => parseResourceText('fuzz.yml', text)),
    };
  },
};

interface ApiInput {
  method: string;
  route: string;
  contentType: string;
  body: string;
}

const ROUTES = [
  '/v1/manifest',
  '/v1/mesh/cert',
  '/v1/recover',
  '/v1/peer/recover',
  '/v1/attest',
  '/v1/state',
  '/capabilities',
  '/nope',
];

const httpApi: FuzzTarget<ApiInput> = {
  name: 'coordinator-http-api',
  async setup() {
    const dir = await mkdtemp(path.join(tmpdir(), 'fuzz-coordinator-'));
    const store = await DirectoryHistoryStore.open(dir);
    const d = deployment(['web']);
    const coordinator: RunningCoordinator = await startCoordinator({
      store,
      platforms: registry(),
      issuer: podIssuer(d.hashes.coordinator!),
      allowInsecure: true,
      metricsPort: null,
      // The fuzzer is one client sending as fast as it can: room for its challenges.
      limits: { nonces: { maxPerClient: 100_000 } },
    });
    const wire = (v: unknown) => JSON.stringify(v) ?? '';
    const validBodies = [
      {
        manifest: Buffer.from(d.manifest).toString('base64'),
        policies: d.policies.map((p) => Buffer.from(p).toString('base64')),
      },
      {
        nonce: Buffer.alloc(32).toString('base64'),
        public_key: 'AAAA',
        evidence: { kind: 'fake', data: 'AAAA' },
      },
      { nonce: Buffer.alloc(32).toString('base64') },
      {},
    ];
    const body = fc.oneof(
      fc
        .constantFrom(...validBodies)
        .chain((v) => mutatedJson(v))
        .map(wire),
      fc.jsonValue({ maxDepth: 4 }).map(wire),
      fc.string({ maxLength: 512 }),
    );
    const arbitrary = fc.record({
      method: fc.constantFrom('POST', 'POST', 'POST', 'GET', 'PUT', 'DELETE'),
      route: fc.constantFrom(...ROUTES),
      contentType: fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', ''),
      body,
    });
    const agent = new (await import('node:https')).Agent({
      keepAlive: true,
      maxSockets: 8,
      rejectUnauthorized: false,
    });
    const send = (input: ApiInput) =>
      new Promise<number>((resolve, reject) => {
        const payload = Buffer.from(input.body);
        const req = request(
          {
            agent,
            host: coordinator.host,
            port: coordinator.port,
            method: input.method,
            path: input.route,
            headers: {
              ...(input.contentType ? { 'content-type': input.contentType } : {}),
              'content-length': payload.length,
            },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        // An answer that never comes is a finding (a hang), not a stalled campaign.
        req.setTimeout(10_000, () =>
          req.destroy(new Error(`no answer within 10 s to ${input.method} ${input.route}`)),
        );
        req.end(payload);
      });
    return {
      arbitrary,
      async run(input) {
        const status = await send(input);
        // Every answer is a deliberate one: never an internal error, never a dropped connection.
        if (status < 200 || status >= 500)
          throw new Error(`HTTP ${status} for ${input.method} ${input.route}`);
      },
      async close() {
        agent.destroy();
        await coordinator.close();
        await store.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
};

/**
 * The streaming tar reader of image layers: any bytes, cut into chunks anywhere, either read or
 * refused with a ContrastError, and the same way however they are cut (the chunked read must
 * give exactly the entries, or the refusal, of the read in one piece).
 */
const tarStream: FuzzTarget<{ bytes: Uint8Array; chunk: number }> = {
  name: 'oci-tar-stream',
  async setup() {
    const long = `usr/${'long-name/'.repeat(12)}x`;
    const valid = Buffer.concat([
      ...tarEntry('etc/passwd', '0', 'root:x:0:0::/root:/bin/sh\n'),
      ...tarEntry('././@LongLink', 'L', `${long}\0`),
      ...tarEntry('x', '0', 'long-named'),
      ...tarEntry('PaxHeader', 'x', `25 path=opt/pax/file.txt\n`),
      ...tarEntry('y', '0', 'pax-named'),
      ...tarEntry('etc/.wh.group', '0', ''),
      ...tarEntry('etc', '5', ''),
      Buffer.alloc(1024),
    ]);
    const read = (bytes: Uint8Array, chunk: number): string => {
      const out: unknown[] = [];
      const r = new TarStreamReader(
        (p) => p.startsWith('etc/') || p.startsWith('opt/'),
        (e) => out.push([e.path, e.type, e.data.toString('base64')]),
        4096,
      );
      try {
        const b = Buffer.from(bytes);
        for (let i = 0; i < b.length; i += chunk) r.push(b.subarray(i, i + chunk));
        r.end();
      } catch (e) {
        refusedProperly(e);
        return `refused: ${(e as Error).message}`;
      }
      return JSON.stringify(out);
    };
    return {
      arbitrary: fc.record({
        bytes: fc.oneof({ weight: 4, arbitrary: mutatedBytes(valid) }, fc.uint8Array({ maxLength: 4096 })),
        chunk: fc.integer({ min: 1, max: 1100 }),
      }),
      run({ bytes, chunk }) {
        const whole = read(bytes, bytes.length + 1);
        const cut = read(bytes, chunk);
        if (whole !== cut)
          throw new Error(
            `read in ${chunk}-byte chunks: ${cut.slice(0, 200)}; whole: ${whole.slice(0, 200)}`,
          );
      },
    };
  },
};

/** Every target, in the order the runner goes through them. */
export const TARGETS: FuzzTarget<never>[] = [
  tarStream,
  snpReport,
  tdxQuote,
  ccel,
  collateral,
  manifest,
  rego,
  yaml,
  httpApi,
] as FuzzTarget<never>[];
