import { X509Certificate } from 'node:crypto';
import { ContrastError, type DerTlv, decodeDerOid, readDerTlv } from '@contrast-cc/core';
import { derOidOf } from '@contrast-cc/core/x509';
import { decodeMeshCertificateExtensions, type MeshCertificateClaims } from './extensions.js';

const COMMON_NAME = derOidOf('2.5.4.3');
const SUBJECT_ALT_NAME = '2.5.29.17';

/**
 * Reads a mesh certificate (PEM or DER): its SANs, SPKI and our extensions (WorkloadSecretID,
 * attestation claims). Does not verify the chain: use node's X509Certificate or openssl for that.
 * SANs are given as text: DNS names, URIs and e-mail addresses as written, IP addresses as node's
 * X509Certificate shows them (IPv4 dotted, IPv6 as eight hex groups).
 * @public
 */
export function readMeshCertificate(cert: string | Uint8Array): MeshCertificateClaims & {
  subjectCommonName: string | undefined;
  sans: string[];
  spki: Uint8Array;
  notBefore: Date;
  notAfter: Date;
} {
  let parsed: X509Certificate;
  try {
    parsed = new X509Certificate(typeof cert === 'string' ? cert : Buffer.from(cert));
  } catch (cause) {
    throw new ContrastError('invalid-argument', 'not an X.509 certificate', { field: 'certificate', cause });
  }
  const der = new Uint8Array(parsed.raw);
  const tbs = children(der, readDerTlv(der, 0, 'certificate'))[0]!;
  // TBSCertificate: [0] version, serial, signature, issuer, validity, subject, SPKI, [1]? [2]? [3] extensions
  const fields = children(der, tbs);
  const at = fields[0]?.tag === 0xa0 ? 1 : 0;
  const subject = fields[at + 4];
  const spki = fields[at + 5];
  if (!subject || !spki)
    throw new ContrastError('invalid-argument', 'not an X.509 certificate', { field: 'certificate' });
  const extensions = new Map<string, Uint8Array>();
  const list = fields.find((f) => f.tag === 0xa3);
  if (list) {
    for (const ext of children(der, children(der, list)[0]!)) {
      const parts = children(der, ext);
      extensions.set(decodeDerOid(content(der, parts[0]!)), content(der, parts[parts.length - 1]!));
    }
  }
  const san = extensions.get(SUBJECT_ALT_NAME);
  return {
    ...decodeMeshCertificateExtensions(extensions),
    subjectCommonName: commonName(der, subject),
    sans: san ? sanTexts(san) : [],
    spki: der.slice(spki.start, spki.end),
    notBefore: new Date(parsed.validFrom),
    notAfter: new Date(parsed.validTo),
  };
}

function children(bytes: Uint8Array, node: DerTlv): DerTlv[] {
  const out: DerTlv[] = [];
  for (let at = node.contentStart; at < node.end; ) {
    const child = readDerTlv(bytes, at, 'certificate', node.end);
    out.push(child);
    at = child.end;
  }
  return out;
}

const content = (bytes: Uint8Array, node: DerTlv) => bytes.subarray(node.contentStart, node.end);

/** The first commonName of a Name (RDNs of AttributeTypeAndValue). */
function commonName(bytes: Uint8Array, name: DerTlv): string | undefined {
  for (const rdn of children(bytes, name)) {
    for (const attribute of children(bytes, rdn)) {
      const [type, value] = children(bytes, attribute);
      const oid = type && bytes.subarray(type.start, type.end);
      if (value && oid?.length === COMMON_NAME.length && oid.every((b, i) => b === COMMON_NAME[i])) {
        return new TextDecoder().decode(content(bytes, value));
      }
    }
  }
  return undefined;
}

/** GeneralNames as text: rfc822Name [1], dNSName [2], URI [6], iPAddress [7]; other forms are skipped. */
function sanTexts(value: Uint8Array): string[] {
  const out: string[] = [];
  for (const name of children(value, readDerTlv(value, 0, 'subjectAltName'))) {
    const bytes = content(value, name);
    if (name.tag === 0x81 || name.tag === 0x82 || name.tag === 0x86)
      out.push(new TextDecoder().decode(bytes));
    else if (name.tag === 0x87 && bytes.length === 4) out.push(bytes.join('.'));
    else if (name.tag === 0x87 && bytes.length === 16) {
      const groups: string[] = [];
      for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
      out.push(groups.join(':'));
    }
  }
  return out;
}
