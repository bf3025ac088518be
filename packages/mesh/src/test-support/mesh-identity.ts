import { generateKeyPairSync } from 'node:crypto';
import type { CaHierarchy } from '@contrast-cc/certs';
import type { MeshCredentials } from '../proxy.js';

/** A fresh P-256 key with a mesh certificate for `name` from `ca`, as the initializer would write. */
export async function issueMeshCredentials(ca: CaHierarchy, name: string): Promise<MeshCredentials> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const cert = await ca.issueMeshCertificate({ publicKey, sans: [name] });
  return {
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    certChainPem: cert.chainPem,
    meshCaPem: ca.meshCa.pem,
  };
}
