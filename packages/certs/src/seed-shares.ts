import { constants, createPublicKey, type KeyObject, privateDecrypt, publicEncrypt } from 'node:crypto';
import { bytesEqual, ContrastError, fromHex, type Logger, noopLogger, toHex } from '@contrast-cc/core';
import { type PrivateKeyInput, type PublicKeyInput, scrubCause, toPrivateKey, toPublicKey } from './keys.js';
import { SALT_LENGTH } from './seed-engine.js';
import { combineShares, splitSecret } from './shamir.js';

/** The RSA-OAEP label of seed shares (upstream-compatible). @public */
export const SEED_SHARE_OAEP_LABEL = 'seedshare';
/** The smallest RSA modulus accepted for a seed-share owner key (upstream generates 4096). @public */
export const MIN_SEED_SHARE_KEY_BITS = 2048;

/**
 * One encrypted share as upstream's `seed-shares.json` holds it: `PublicKey` is the lower-case hex
 * of the owner's PKCS#1 RSAPublicKey DER, `EncryptedSeed` the base64 RSA-OAEP ciphertext.
 * @public
 */
export interface SeedShare {
  PublicKey: string;
  EncryptedSeed: string;
}

/**
 * The seed-share document (upstream's protojson `SeedShareDocument`, plus `Threshold` when the
 * seed was split k-of-n with Shamir; then each `EncryptedSeed` holds one Shamir share).
 * @public
 */
export interface SeedShareDocument {
  SeedShares: SeedShare[];
  /** base64 of the 32-byte salt. */
  salt: string;
  /** k of a k-of-n split; absent (or 1 without split) means every share is the whole seed. */
  Threshold?: number;
}

function rsaOwnerKey(input: PublicKeyInput, field: string): KeyObject {
  const key = toPublicKey(input, field);
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (key.asymmetricKeyType !== 'rsa' || bits < MIN_SEED_SHARE_KEY_BITS) {
    throw new ContrastError(
      'invalid-argument',
      `seed-share owner key must be RSA with at least ${MIN_SEED_SHARE_KEY_BITS} bits`,
      { field },
    );
  }
  return key;
}

/** The identifier upstream uses for an owner key: hex of its PKCS#1 public key DER. @public */
export function seedShareOwnerId(publicKey: PublicKeyInput): string {
  const key = rsaOwnerKey(publicKey, 'publicKey');
  return toHex(new Uint8Array(key.export({ type: 'pkcs1', format: 'der' })));
}

/** RSA-OAEP(SHA-256, label "seedshare") of `secret` to an owner's RSA public key. @public */
export function encryptSeedShare(secret: Uint8Array, ownerPublicKey: PublicKeyInput): Uint8Array {
  const key = rsaOwnerKey(ownerPublicKey, 'ownerPublicKey');
  return new Uint8Array(
    publicEncrypt(
      {
        key,
        padding: constants.RSA_PKCS1_OAEP_PADDING,
        oaepHash: 'sha256',
        oaepLabel: Buffer.from(SEED_SHARE_OAEP_LABEL),
      },
      secret,
    ),
  );
}

/** Decrypts one share with the owner's RSA private key. Throws `permission-denied` on failure. @public */
export function decryptSeedShare(ciphertext: Uint8Array, ownerPrivateKey: PrivateKeyInput): Uint8Array {
  const key = toPrivateKey(ownerPrivateKey, 'ownerPrivateKey');
  try {
    return new Uint8Array(
      privateDecrypt(
        {
          key,
          padding: constants.RSA_PKCS1_OAEP_PADDING,
          oaepHash: 'sha256',
          oaepLabel: Buffer.from(SEED_SHARE_OAEP_LABEL),
        },
        ciphertext,
      ),
    );
  } catch (cause) {
    throw new ContrastError('permission-denied', 'seed share does not decrypt with this owner key', {
      field: 'EncryptedSeed',
      cause: scrubCause(cause),
    });
  }
}

/** Options of {@link createSeedShareDocument}. @public */
export interface CreateSeedSharesOptions {
  seed: Uint8Array;
  salt: Uint8Array;
  /** The seed-share owners' RSA public keys (`SeedshareOwnerPubKeys` of the manifest). */
  ownerPublicKeys: readonly PublicKeyInput[];
  /** k for a k-of-n Shamir split; omit to give every owner the whole seed (upstream behaviour). */
  threshold?: number;
  logger?: Logger;
}

/**
 * Encrypts the seed (or, with `threshold`, one Shamir share of it) to each owner.
 * @public
 */
export function createSeedShareDocument(options: CreateSeedSharesOptions): SeedShareDocument {
  const { seed, salt, ownerPublicKeys, threshold } = options;
  const log = options.logger ?? noopLogger;
  if (salt.length !== SALT_LENGTH) {
    throw new ContrastError('invalid-argument', `salt must be ${SALT_LENGTH} bytes`, { field: 'salt' });
  }
  if (ownerPublicKeys.length === 0) {
    throw new ContrastError('invalid-argument', 'at least one seed-share owner key is required', {
      field: 'ownerPublicKeys',
    });
  }
  const keys = ownerPublicKeys.map((k, i) => rsaOwnerKey(k, `ownerPublicKeys[${i}]`));
  const secrets =
    threshold === undefined ? keys.map(() => seed) : splitSecret(seed, { threshold, shares: keys.length });
  const doc: SeedShareDocument = {
    SeedShares: keys.map((key, i) => ({
      PublicKey: toHex(new Uint8Array(key.export({ type: 'pkcs1', format: 'der' }))),
      EncryptedSeed: Buffer.from(encryptSeedShare(secrets[i]!, key)).toString('base64'),
    })),
    salt: Buffer.from(salt).toString('base64'),
  };
  if (threshold !== undefined) {
    doc.Threshold = threshold;
    for (const s of secrets) s.fill(0);
  }
  log.info('created seed shares', { owners: keys.length, threshold: threshold ?? 1 });
  return doc;
}

/**
 * The owner side: finds the share encrypted to this owner's key and decrypts it. The result is
 * the seed itself (no threshold) or one Shamir share; pass the collected results to
 * {@link recoverSeed}.
 * @public
 */
export function openSeedShare(document: SeedShareDocument, ownerPrivateKey: PrivateKeyInput): Uint8Array {
  const key = toPrivateKey(ownerPrivateKey, 'ownerPrivateKey');
  const id = seedShareOwnerId(createPublicKey(key));
  const index = document.SeedShares.findIndex((s) => s.PublicKey.toLowerCase() === id);
  if (index < 0) {
    throw new ContrastError('not-found', 'no seed share is encrypted to this owner key', {
      field: 'SeedShares',
    });
  }
  const ciphertext = new Uint8Array(Buffer.from(document.SeedShares[index]!.EncryptedSeed, 'base64'));
  try {
    return decryptSeedShare(ciphertext, key);
  } catch (e) {
    throw new ContrastError('permission-denied', 'seed share does not decrypt with this owner key', {
      field: `SeedShares[${index}].EncryptedSeed`,
      cause: e,
    });
  }
}

/**
 * Recovers seed and salt from the document and the decrypted shares of enough owners.
 * Without a threshold one share suffices (and all given shares must agree).
 * @public
 */
export function recoverSeed(
  document: SeedShareDocument,
  openedShares: readonly Uint8Array[],
): { seed: Uint8Array; salt: Uint8Array } {
  let salt: Uint8Array;
  try {
    salt = new Uint8Array(Buffer.from(document.salt, 'base64'));
  } catch {
    salt = new Uint8Array();
  }
  if (salt.length !== SALT_LENGTH) {
    throw new ContrastError('invalid-argument', `salt must be base64 of ${SALT_LENGTH} bytes`, {
      field: 'salt',
    });
  }
  if (openedShares.length === 0) {
    throw new ContrastError('invalid-argument', 'no decrypted seed shares given', { field: 'shares' });
  }
  const threshold = document.Threshold;
  if (threshold === undefined) {
    const seed = openedShares[0]!;
    if (openedShares.some((s) => !bytesEqual(s, seed))) {
      throw new ContrastError('permission-denied', 'the decrypted seed shares disagree', { field: 'shares' });
    }
    return { seed: seed.slice(), salt };
  }
  if (openedShares.some((s) => s[1] !== threshold)) {
    throw new ContrastError('invalid-argument', 'a share was split with another threshold', {
      field: 'Threshold',
    });
  }
  return { seed: combineShares(openedShares), salt };
}

/** Parses the hex owner id back to a public key (for display and checks). @public */
export function seedShareOwnerKey(ownerId: string): KeyObject {
  const der = fromHex(ownerId, { field: 'PublicKey' });
  return createPublicKey({ key: Buffer.from(der), format: 'der', type: 'pkcs1' });
}
