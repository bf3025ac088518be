// issuance-overhead: the CPU the Coordinator's Authority spends per mesh certificate below the
// HTTP layer, against the two operations it cannot avoid, measured in the same process and run.
//
// The Authority is set up as the Coordinator sets it up (Simulated-SNP platform with its real SNP
// verifier, a directory store, the manifest of `coordinator-load`: a workload policy with three
// SANs and a WorkloadSecretID; the info log line of every certificate serialized as the
// Coordinator's JSON logger does, written to /dev/null). N evidences are made beforehand as
// initializers make them (a nonce from the Authority, REPORT_DATA = meshCertReportData(nonce,
// certificate key, channel key), a real SNP report from the simulator's issuer), then
// `authority.issueMeshCertificate` is called N times, one at a time.
//
// The baseline ("bare"): the same N reports verified with a cached KeyObject of the VCEK (P-384,
// node:crypto verify) plus N P-384 signatures over a body of the issued certificate's TBS size,
// on the calling thread as the CA signs. CPU is `process.cpuUsage()` (user + system, all threads);
// rounds alternate (bare, real, real, bare, ...) and each side keeps its median.
//
// BENCH_REQUESTS (1000) certificates per round, BENCH_ROUNDS (5) rounds of each; BENCH_CONCURRENCY
// (1): calls in flight at once (the Coordinator has up to 200; more live objects, more GC).
// Ends with `issuance-overhead: ratio X`: bare CPU / Authority CPU per certificate.
import { generateKeyPairSync, randomBytes, sign, verify, X509Certificate } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { meshCertReportData } from '@contrast-cc/api';
import { Authority } from '@contrast-cc/authority';
import { createLogger, createPlatformRegistry, noopLogger } from '@contrast-cc/core';
import {
  createSimulatedSnpPlatform,
  createSimulatorTrust,
  simulatedSnpReferenceValues,
} from '@contrast-cc/platform-simulator';
import { DirectoryHistoryStore } from '@contrast-cc/store';
import { benchManifest, percentile, printRatio, tbsSizeOf } from '../lib.mjs';

const perRound = Number(process.env.BENCH_REQUESTS ?? 1000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 1);

const work = mkdtempSync(path.join(tmpdir(), 'bench-issuance-'));
const devNull = openSync('/dev/null', 'w');
// The Coordinator's logger (apps/coordinator/src/main.ts): one JSON line per record.
const log = createLogger(
  (r) => {
    writeSync(
      devNull,
      `${JSON.stringify({ time: new Date().toISOString(), level: r.level, msg: r.message, ...r.fields })}\n`,
    );
  },
  { level: 'info' },
);

try {
  const trust = createSimulatorTrust({ dir: path.join(work, 'simulator') });
  const snp = createSimulatedSnpPlatform({ trust });
  const store = await DirectoryHistoryStore.open(path.join(work, 'store'), { logger: noopLogger });
  const channel = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const authority = await Authority.open({
    store,
    platforms: createPlatformRegistry([snp]),
    channelKey: channel.privateKey,
    allowInsecure: true,
    nonceTtlMs: 3_600_000,
    logger: log,
  });

  const { docs, webHash, manifestJson: manifest } = benchManifest({ snp: [simulatedSnpReferenceValues()] });
  await authority.setManifest({
    manifest: new TextEncoder().encode(JSON.stringify(manifest)),
    policies: docs,
  });

  const issuer = snp.attestation.createIssuer({ logger: noopLogger, hostData: Buffer.from(webHash, 'hex') });
  const keys = Array.from(
    { length: 200 },
    () =>
      new Uint8Array(
        generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }),
      ),
  );
  /** N requests as initializers make them (fresh nonce, fresh report). */
  async function requests(n) {
    const out = [];
    for (let i = 0; i < n; i++) {
      const publicKey = keys[i % keys.length];
      const nonce = authority.createNonce();
      const evidence = await issuer.issue(await meshCertReportData(nonce, publicKey, authority.channelSpki));
      out.push({ nonce, publicKey, evidence });
    }
    return out;
  }

  // The bare operations: the VCEK of the evidence as a cached KeyObject, the report's signature
  // in DER, a P-384 CA key signing a TBS-sized body on the calling thread (as the CA does).
  const sample = (await requests(1))[0];
  const vcek = new X509Certificate(Buffer.from(sample.evidence.extras.vcek)).publicKey;
  const first = await authority.issueMeshCertificate(sample);
  const leafDer = new X509Certificate(first.certChainPem).raw;
  const tbsSize = tbsSizeOf(leafDer);
  const caKey = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
  const p1363ToDer = (rs) => {
    const int = (b) => {
      let i = 0;
      while (i < b.length - 1 && b[i] === 0) i++;
      const m = b.subarray(i);
      return m[0] & 0x80
        ? Buffer.concat([Buffer.of(2, m.length + 1, 0), m])
        : Buffer.concat([Buffer.of(2, m.length), m]);
    };
    const body = Buffer.concat([int(rs.subarray(0, 48)), int(rs.subarray(48))]);
    return Buffer.concat([
      body.length < 0x80 ? Buffer.of(0x30, body.length) : Buffer.of(0x30, 0x81, body.length),
      body,
    ]);
  };
  const bareInputs = (reqs) =>
    reqs.map(({ evidence }) => {
      const raw = evidence.data;
      const sig = Buffer.alloc(96);
      for (let i = 0; i < 48; i++) {
        sig[47 - i] = raw[0x2a0 + i];
        sig[95 - i] = raw[0x2e8 + i];
      }
      return { signed: raw.subarray(0, 0x2a0), signature: p1363ToDer(sig), tbs: randomBytes(tbsSize) };
    });
  const signOnce = (data) => sign('sha384', data, { key: caKey, dsaEncoding: 'der' });

  // A full collection before each measured round, so that garbage of the set-up (the pre-made
  // requests) is not charged to a round.
  setFlagsFromString('--expose-gc');
  const collect = runInNewContext('gc');
  async function bareRound(inputs) {
    collect();
    const c0 = process.cpuUsage();
    for (const x of inputs) {
      if (!verify('sha384', x.signed, vcek, x.signature)) throw new Error('bare: report does not verify');
      signOnce(x.tbs);
    }
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 1000 / inputs.length;
  }
  async function realRound(reqs) {
    collect();
    const c0 = process.cpuUsage();
    if (concurrency <= 1) for (const r of reqs) await authority.issueMeshCertificate(r);
    else {
      let next = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < reqs.length) await authority.issueMeshCertificate(reqs[next++]);
        }),
      );
    }
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / 1000 / reqs.length;
  }

  // Warm-up (JIT, the verifier's chain cache).
  for (let i = 0; i < 3; i++) await realRound(await requests(200));
  await bareRound(bareInputs(await requests(200)));

  const bare = [];
  const real = [];
  for (let i = 0; i < rounds; i++) {
    const reqs = await requests(perRound);
    const inputs = bareInputs(reqs);
    if (i % 2 === 0) {
      bare.push(await bareRound(inputs));
      real.push(await realRound(reqs));
    } else {
      real.push(await realRound(reqs));
      bare.push(await bareRound(inputs));
    }
    console.log(
      `  round ${i + 1}: Authority ${real.at(-1).toFixed(3)} ms CPU per certificate, bare ${bare.at(-1).toFixed(3)} ms; overhead ${(real.at(-1) - bare.at(-1)).toFixed(3)} ms`,
    );
  }
  const r = percentile(real, 50);
  const b = percentile(bare, 50);
  console.log(`certificate:         ${leafDer.length} bytes DER (TBS ${tbsSize})`);
  console.log(
    `Authority:           ${r.toFixed(3)} ms CPU per issueMeshCertificate (median of ${rounds} x ${perRound})`,
  );
  console.log(`bare:                ${b.toFixed(3)} ms CPU per (P-384 verify with a KeyObject + P-384 sign)`);
  console.log(`overhead:            ${(r - b).toFixed(3)} ms CPU per certificate`);
  await authority.close();
  await store.close();
  printRatio(
    'issuance-overhead',
    b / r,
    'bare P-384 verify + sign CPU / Authority CPU per certificate, same process, interleaved rounds',
  );
} finally {
  closeSync(devNull);
  rmSync(work, { recursive: true, force: true });
}
