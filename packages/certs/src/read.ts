import { ContrastError } from '@contrast-cc/core';
import { decodeMeshCertificateExtensions, type MeshCertificateClaims } from './extensions.js';
import { x509 } from './x509.js';

/**
 * Reads a mesh certificate (PEM or DER): its SANs, SPKI and our extensions (WorkloadSecretID,
 * attestation claims). Does not verify the chain: use node's X509Certificate or openssl for that.
 * @public
 */
export function readMeshCertificate(cert: string | Uint8Array): MeshCertificateClaims & {
  subjectCommonName: string | undefined;
  sans: string[];
  spki: Uint8Array;
  notBefore: Date;
  notAfter: Date;
} {
  let parsed: x509.X509Certificate;
  try {
    parsed = new x509.X509Certificate(typeof cert === 'string' ? cert : (cert as BufferSource));
  } catch (cause) {
    throw new ContrastError('invalid-argument', 'not an X.509 certificate', { field: 'certificate', cause });
  }
  const map = new Map<string, Uint8Array>();
  for (const e of parsed.extensions) map.set(e.type, new Uint8Array(e.value));
  const san = parsed.getExtension(x509.SubjectAlternativeNameExtension);
  return {
    ...decodeMeshCertificateExtensions(map),
    subjectCommonName: parsed.subjectName.getField('CN')[0],
    sans: san ? san.names.items.map((n) => n.value) : [],
    spki: new Uint8Array(parsed.publicKey.rawData),
    notBefore: parsed.notBefore,
    notAfter: parsed.notAfter,
  };
}
