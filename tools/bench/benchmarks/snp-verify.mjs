// snp-verify: full SNP report verifications per second with the certificate chain cached
// (signature + chain lookup + validity + VCEK binding + REPORT_DATA + reference values), against
// `openssl speed -seconds 3 ecdsap384` verify/s measured in the same run. Target (issue #3): >= 0.8.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createSimulatedSnpIssuer, createSnpVerifier, parseSnpReport } from '@contrast-cc/attestation/snp';
import { opensslSpeed, printRatio, repoRoot } from '../lib.mjs';

const shared = process.env.CONTRAST_SHARED_DIR ?? path.resolve(repoRoot, '../shared');
const vectorDir = path.join(shared, 'testvectors/snp/oak-genoa-v5-vcek');

let report;
let options;
let source;
if (existsSync(vectorDir)) {
  report = new Uint8Array(readFileSync(path.join(vectorDir, 'report.bin')));
  options = {
    vcek: new Uint8Array(readFileSync(path.join(vectorDir, 'vcek.der'))),
    certChain: new Uint8Array(readFileSync(path.join(vectorDir, 'cert_chain.pem'))),
    now: new Date('2025-10-01T08:00:00Z'),
  };
  source = 'real Genoa v5 report (oak-genoa-v5-vcek), AMD roots';
} else {
  const issuer = await createSimulatedSnpIssuer({ product: 'Genoa' });
  report = issuer.report(new Uint8Array(64).fill(1));
  options = {
    vcek: issuer.chain.vcekDer,
    certChain: issuer.chain.certChainPem,
    trustAnchors: [issuer.trustAnchor],
  };
  source = 'simulated Genoa v3 report (../shared not found)';
}
const parsed = parseSnpReport(report);
const referenceValues = {
  ProductName: 'Genoa',
  TrustedMeasurement: Buffer.from(parsed.measurement).toString('hex'),
  MinimumTCB: {
    BootloaderVersion: parsed.reportedTcb.bootloader,
    TEEVersion: parsed.reportedTcb.tee,
    SNPVersion: parsed.reportedTcb.snp,
    MicrocodeVersion: parsed.reportedTcb.microcode,
  },
  GuestPolicy: { SMT: true },
  PlatformInfo: { SMTEnabled: true, TSMEEnabled: parsed.platform.tsmeEnabled },
};
// The verifier as the Coordinator and CLI use it (reference values compiled once).
const verifier = createSnpVerifier({
  referenceValues,
  checkRevocation: false,
  ...(options.trustAnchors ? { trustAnchors: options.trustAnchors } : {}),
});
const evidence = {
  kind: 'snp-report',
  data: report,
  extras: { vcek: options.vcek, 'cert-chain': new Uint8Array(Buffer.from(options.certChain)) },
};
const expected = { reportData: parsed.reportData, ...(options.now ? { now: options.now } : {}) };
const once = async () => {
  const r = await verifier.verify(evidence, expected);
  if (!r.ok) throw new Error(`benchmark input does not verify: ${r.reason.code} ${r.reason.message}`);
};
await once(); // builds and caches the chain

// `openssl speed` reports operations per second of *user CPU time* (it has `-elapsed` for wall
// time), so on a shared, loaded machine its figure does not drop with load. Measure ours the same
// way: operations per second of this process's user CPU time (all threads, so GC helper threads
// count against us). Wall-clock throughput is printed too.
async function opsPerCpuSecond(fn, seconds, warmup) {
  for (let i = 0; i < warmup; i++) await fn();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let n = 0;
  while (Number(process.hrtime.bigint() - t0) < seconds * 1e9) {
    await fn();
    n++;
  }
  const cpu = process.cpuUsage(cpu0);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  return { cpu: n / (cpu.user / 1e6), wall: n / wall };
}

// The machine is shared and its load changes by the second: alternate short rounds of ours and
// of openssl and keep each side's best round (the least disturbed one).
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const best = { cpu: 0, wall: 0 };
let baseline = 0;
await opsPerCpuSecond(once, 0.3, 200); // warm-up
for (let i = 0; i < rounds; i++) {
  const r = await opsPerCpuSecond(once, 1, 10);
  best.cpu = Math.max(best.cpu, r.cpu);
  best.wall = Math.max(best.wall, r.wall);
  baseline = Math.max(baseline, opensslSpeed('ecdsap384', 1).verifyPerSec);
}
console.log(`input:                        ${source}`);
console.log(
  `SNP verifier (chain cached):  ${best.cpu.toFixed(0)} reports per user-CPU-second (wall-clock ${best.wall.toFixed(0)}/s), best of ${rounds}`,
);
console.log(
  `openssl ecdsap384 verify:     ${baseline.toFixed(0)} verify per user-CPU-second (openssl speed default), best of ${rounds}`,
);
printRatio(
  'snp-verify',
  best.cpu / baseline,
  'full SNP report verifications per user-CPU-second with chain cached / openssl speed ecdsap384 verify/s; target >= 0.8',
);
