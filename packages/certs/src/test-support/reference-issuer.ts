// The previous, @peculiar/x509-based certificate builder, kept only as a test oracle: the direct DER
// encoder in src/certificate.ts must produce the same to-be-signed bytes for the same inputs.
// Serial numbers are injected so both sides can be compared byte for byte.
import { createHash, createPublicKey, type KeyObject, webcrypto } from 'node:crypto';
import type { EvidenceClaims } from '@contrast-cc/core';
import { CA_NAMES, type CaValidity, classifySans } from '../ca.js';
import { spkiPublicKeyBits } from '../der-read.js';
import { meshCertificateExtensions, type RawExtension } from '../extensions.js';
import { type PublicKeyInput, spkiDer, toPublicKey } from '../keys.js';
import { x509 } from './x509.js';

const HOUR = 3_600_000;
const SIGNING = { name: 'ECDSA', hash: 'SHA-384' } as const;

function addValidity(from: Date, ms: number | undefined, years: number): Date {
  if (ms !== undefined) return new Date(from.getTime() + ms);
  const d = new Date(from.getTime());
  d.setUTCFullYear(d.getUTCFullYear() + years);
  return d;
}

function keyId(spki: Uint8Array): string {
  return createHash('sha1').update(spkiPublicKeyBits(spki)).digest('hex');
}

async function signingKey(key: KeyObject): Promise<CryptoKey> {
  return (await webcrypto.subtle.importKey(
    'pkcs8',
    key.export({ type: 'pkcs8', format: 'der' }),
    { name: 'ECDSA', namedCurve: 'P-384' },
    false,
    ['sign'],
  )) as unknown as CryptoKey;
}

/** The old `issueMeshCertificate`, with the serial (hex) given. */
export async function referenceMeshCertificate(input: {
  meshKey: KeyObject;
  serialHex: string;
  validity?: CaValidity;
  publicKey: PublicKeyInput;
  sans: readonly string[];
  workloadSecretId?: string;
  claims?: EvidenceClaims;
  extraExtensions?: readonly RawExtension[];
  now: Date;
}): Promise<Uint8Array> {
  const validity = input.validity ?? {};
  const spki = spkiDer(toPublicKey(input.publicKey, 'publicKey'));
  const names = classifySans(input.sans);
  const cn = names.find((n) => n.type === 'dns')?.value ?? names[0]?.value ?? 'contrast-workload';
  const notBefore = new Date(input.now.getTime() - (validity.backdateMs ?? HOUR));
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth, x509.ExtendedKeyUsage.serverAuth]),
    new x509.SubjectKeyIdentifierExtension(keyId(spki)),
    new x509.AuthorityKeyIdentifierExtension(keyId(spkiDer(createPublicKey(input.meshKey)))),
  ];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names));
  const ours = meshCertificateExtensions({
    ...(input.workloadSecretId !== undefined ? { workloadSecretId: input.workloadSecretId } : {}),
    ...(input.claims ? { claims: input.claims } : {}),
  });
  for (const e of [...ours, ...(input.extraExtensions ?? [])]) {
    extensions.push(new x509.Extension(e.oid, e.critical ?? false, e.value as BufferSource));
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: input.serialHex,
    subject: [{ CN: [cn] }],
    issuer: `CN=${CA_NAMES.intermediate}`,
    notBefore,
    notAfter: addValidity(notBefore, validity.leafMs, 1),
    publicKey: spki as BufferSource,
    signingKey: await signingKey(input.meshKey),
    signingAlgorithm: SIGNING,
    extensions,
  });
  return new Uint8Array(cert.rawData);
}

/** The old CA certificate builder (root, intermediate or mesh CA), with the serial (hex) given. */
export async function referenceCaCertificate(input: {
  kind: 'root' | 'intermediate' | 'meshCa';
  rootKey: KeyObject;
  meshKey: KeyObject;
  serialHex: string;
  notBefore: Date;
  validity?: CaValidity;
}): Promise<Uint8Array> {
  const rootSpki = spkiDer(createPublicKey(input.rootKey));
  const meshSpki = spkiDer(createPublicKey(input.meshKey));
  const usage = x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign;
  const caExtensions = (spki: Uint8Array) => [
    new x509.BasicConstraintsExtension(true, undefined, true),
    new x509.KeyUsagesExtension(usage, true),
    new x509.SubjectKeyIdentifierExtension(keyId(spki)),
  ];
  const common = {
    serialNumber: input.serialHex,
    notBefore: input.notBefore,
    notAfter: addValidity(input.notBefore, input.validity?.caMs, 10),
    signingAlgorithm: SIGNING,
  };
  const cert =
    input.kind === 'root'
      ? await x509.X509CertificateGenerator.create({
          ...common,
          subject: `CN=${CA_NAMES.root}`,
          issuer: `CN=${CA_NAMES.root}`,
          publicKey: rootSpki as BufferSource,
          signingKey: await signingKey(input.rootKey),
          extensions: caExtensions(rootSpki),
        })
      : input.kind === 'intermediate'
        ? await x509.X509CertificateGenerator.create({
            ...common,
            subject: `CN=${CA_NAMES.intermediate}`,
            issuer: `CN=${CA_NAMES.root}`,
            publicKey: meshSpki as BufferSource,
            signingKey: await signingKey(input.rootKey),
            extensions: [
              ...caExtensions(meshSpki),
              new x509.AuthorityKeyIdentifierExtension(keyId(rootSpki)),
            ],
          })
        : await x509.X509CertificateGenerator.create({
            ...common,
            subject: `CN=${CA_NAMES.intermediate}`,
            issuer: `CN=${CA_NAMES.intermediate}`,
            publicKey: meshSpki as BufferSource,
            signingKey: await signingKey(input.meshKey),
            extensions: caExtensions(meshSpki),
          });
  return new Uint8Array(cert.rawData);
}
