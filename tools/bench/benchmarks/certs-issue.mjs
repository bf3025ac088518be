// certs-issue: mesh certificates issued per second (P-384 ECDSA signature + X.509 encoding with SANs,
// WorkloadSecretID and claim extensions) against `openssl speed ecdsap384` signatures per second,
// same machine, same run. One issuance costs one P-384 signature plus encoding; target (issue #5):
// ratio >= 0.04 (an issuance costs at most ~25 raw signatures:
// @peculiar/x509 encoding and WebCrypto signing on the thread pool dominate; pods request one per start).
import { generateKeyPairSync } from 'node:crypto';
import { createCaHierarchy, SeedEngine } from '@contrast-cc/certs';
import { opensslSpeed, opsPerSecond, printRatio } from '../lib.mjs';

const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const ca = await createCaHierarchy(SeedEngine.generate());
const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const claims = {
  kind: 'snp-report',
  reportData: new Uint8Array(64).fill(1),
  measurement: 'ab'.repeat(48),
  policyDigest: 'cd'.repeat(32),
  insecure: false,
  details: { tcb: { bootloader: 10, tee: 0, snp: 23, microcode: 213 } },
};
const issue = () =>
  ca.issueMeshCertificate({
    publicKey,
    sans: ['web', 'web.default.svc.cluster.local', '10.0.0.7'],
    workloadSecretId: 'web',
    claims,
  });
const perSecond = await opsPerSecond(issue, { seconds });
const engines = await opsPerSecond(() => SeedEngine.generate(), { seconds: 1 });
const { signPerSec } = opensslSpeed('ecdsap384', seconds);
console.log(`openssl speed ecdsap384: ${signPerSec.toFixed(0)} sign/s`);
console.log(`issueMeshCertificate:    ${perSecond.toFixed(0)} certificates/s`);
console.log(`new SeedEngine (2 det-keygen P-384 keys + 4 HKDF): ${engines.toFixed(0)}/s`);
printRatio(
  'certs-issue',
  perSecond / signPerSec,
  'mesh certificates issued per second / openssl P-384 signatures per second; target >= 0.04',
);
