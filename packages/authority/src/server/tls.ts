import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createCaHierarchy, SeedEngine } from '@contrast-cc/certs';

/** The Coordinator's TLS identity: a fresh P-256 key per process and a certificate for it. */
export interface TlsIdentity {
  key: KeyObject;
  certPem: string;
}

/**
 * A fresh P-256 TLS key with a certificate for it. Clients do not trust the certificate chain
 * (it comes from a throwaway CA made here): they trust the key because the Coordinator's
 * evidence binds it (attested TLS).
 */
export async function createTlsIdentity(sans: readonly string[] = ['coordinator']): Promise<TlsIdentity> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const throwaway = await createCaHierarchy(SeedEngine.generate());
  const cert = await throwaway.issueMeshCertificate({ publicKey: createPublicKey(privateKey), sans });
  return { key: privateKey, certPem: cert.chainPem };
}
