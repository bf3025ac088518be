import { createPublicKey, generateKeyPairSync, hkdfSync, type KeyObject, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { ContrastError } from '@contrast-cc/core';
import { deriveP384Key } from './keygen.js';

/** Length of a freshly generated secret seed (upstream `SecretSeedSize`). @public */
export const SEED_LENGTH = 64;
/** Length of the HKDF salt (upstream `SecretSeedSaltSize`, the SHA-256 size). @public */
export const SALT_LENGTH = 32;
/** The shortest seed the engine accepts (as upstream: the SHA-256 size). @public */
export const MIN_SEED_LENGTH = 32;

/**
 * The HKDF `info` labels. They are the domain separation of every derivation and are part of the
 * wire-compatibility with upstream Contrast: never change them.
 * @public
 */
export const SEED_LABELS = Object.freeze({
  podState: 'POD STATE SECRET',
  history: 'HISTORY SECRET',
  transactionSigning: 'TRANSACTION SIGNING SECRET',
  rootCa: 'ROOT CA SEED',
  /** Prefix of a workload secret label; the WorkloadSecretID follows verbatim. */
  workloadSecretPrefix: 'WORKLOAD SECRET ID: ',
});

/** A fresh random 64-byte seed. @public */
export function generateSeed(): Uint8Array {
  return new Uint8Array(randomBytes(SEED_LENGTH));
}

/** A fresh random 32-byte salt. @public */
export function generateSalt(): Uint8Array {
  return new Uint8Array(randomBytes(SALT_LENGTH));
}

/** A fresh random P-384 key for the mesh CA (never derived: it rotates). @public */
export function generateMeshCaKey(): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
}

/**
 * HKDF-SHA256(ikm = secret, salt, info = label) with output length = len(secret), the one
 * derivation step of the engine.
 */
function derive(secret: Uint8Array, salt: Uint8Array, label: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', secret, salt, new TextEncoder().encode(label), secret.length));
}

/**
 * Derives every Coordinator secret from one seed and salt (see the package README for the exact
 * derivations). The same seed and salt give the same workload secrets, transaction signing key and
 * root CA key, which is what keeps the root CA stable across manifest updates and recovery.
 *
 * The engine never reveals its material when printed, JSON-serialized or logged.
 * @public
 */
export class SeedEngine {
  readonly #seed: Uint8Array;
  readonly #salt: Uint8Array;
  readonly #podStateSeed: Uint8Array;
  readonly #historySeed: Uint8Array;
  readonly #transactionSigningKey: KeyObject;
  readonly #rootCaKey: KeyObject;

  constructor(seed: Uint8Array, salt: Uint8Array) {
    if (!(seed instanceof Uint8Array) || seed.length < MIN_SEED_LENGTH) {
      throw new ContrastError('invalid-argument', `seed must be at least ${MIN_SEED_LENGTH} bytes`, {
        field: 'seed',
      });
    }
    if (!(salt instanceof Uint8Array) || salt.length !== SALT_LENGTH) {
      throw new ContrastError('invalid-argument', `salt must be exactly ${SALT_LENGTH} bytes`, {
        field: 'salt',
      });
    }
    this.#seed = seed.slice();
    this.#salt = salt.slice();
    this.#podStateSeed = derive(seed, salt, SEED_LABELS.podState);
    this.#historySeed = derive(seed, salt, SEED_LABELS.history);
    this.#transactionSigningKey = deriveP384Key(derive(seed, salt, SEED_LABELS.transactionSigning));
    this.#rootCaKey = deriveP384Key(derive(seed, salt, SEED_LABELS.rootCa));
  }

  /** A new engine on a fresh random seed and salt. */
  static generate(): SeedEngine {
    return new SeedEngine(generateSeed(), generateSalt());
  }

  /** The secret seed (a copy). Handle with care: it is the Coordinator's root secret. */
  seed(): Uint8Array {
    return this.#seed.slice();
  }

  /** The salt (a copy). Not secret on its own; it travels in the seed-share document. */
  salt(): Uint8Array {
    return this.#salt.slice();
  }

  /**
   * The workload secret for a WorkloadSecretID:
   * `HKDF-SHA256(podStateSeed, salt, "WORKLOAD SECRET ID: " + id)`, len(seed) bytes.
   */
  workloadSecret(workloadSecretId: string): Uint8Array {
    if (typeof workloadSecretId !== 'string' || workloadSecretId === '') {
      throw new ContrastError('invalid-argument', 'workload secret ID must be a non-empty string', {
        field: 'workloadSecretId',
      });
    }
    return derive(this.#podStateSeed, this.#salt, SEED_LABELS.workloadSecretPrefix + workloadSecretId);
  }

  /** `HKDF-SHA256(seed, salt, "HISTORY SECRET")` (reserved by upstream for history encryption). */
  historySecret(): Uint8Array {
    return this.#historySeed.slice();
  }

  /** The P-384 key that signs the latest transition (deterministic from the seed). */
  transactionSigningKey(): KeyObject {
    return this.#transactionSigningKey;
  }

  /** Its public key. */
  transactionSigningPublicKey(): KeyObject {
    return createPublicKey(this.#transactionSigningKey);
  }

  /** The P-384 root CA key (deterministic from the seed). */
  rootCaKey(): KeyObject {
    return this.#rootCaKey;
  }

  /** A fresh random mesh CA key: the mesh CA rotates with every manifest update and recovery. */
  generateMeshCaKey(): KeyObject {
    return generateMeshCaKey();
  }

  toJSON(): string {
    return '[SeedEngine]';
  }

  toString(): string {
    return '[SeedEngine]';
  }

  [inspect.custom](): string {
    return '[SeedEngine]';
  }
}
