import { createHash } from 'node:crypto';
import { toHex } from '@contrast-cc/core';
import { canonicalManifestBytes } from './canonical.js';
import type { Manifest } from './schema.js';

/**
 * The manifest hash: hex sha256 over the manifest bytes. Pass the exact bytes that were sent or
 * stored (the Coordinator hashes what it receives); pass a parsed manifest to hash its canonical bytes.
 * @public
 */
export function manifestHash(manifest: Manifest | Uint8Array): string {
  const bytes = manifest instanceof Uint8Array ? manifest : canonicalManifestBytes(manifest);
  return toHex(createHash('sha256').update(bytes).digest());
}
