import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ContrastError } from '@contrast-cc/core';

/**
 * Where the engine gets its key material: the Coordinator's workload-secret derivation
 * (`SeedEngine.workloadSecret`, HKDF from the seed). Throws ContrastError `precondition-failed`
 * while the Coordinator has no seed (uninitialized or in recovery).
 * @public
 */
export interface TransitKeySource {
  workloadSecret(workloadSecretId: string): Uint8Array | Promise<Uint8Array>;
}

/** The key version a ciphertext or request names when it names none (Vault starts at 1). @public */
export const DEFAULT_KEY_VERSION = 1;
/** The highest key version accepted (upstream's key_version is a uint32). @public */
export const MAX_KEY_VERSION = 0xffff_ffff;

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const CIPHERTEXT = /^vault:v(0|[1-9][0-9]{0,9}):([A-Za-z0-9+/]+={0,2})$/;

/** A parsed `vault:v<N>:<base64(nonce || ciphertext || tag)>` string. @public */
export interface TransitCiphertext {
  keyVersion: number;
  nonce: Uint8Array;
  sealed: Uint8Array;
}

function bad(message: string, field: string): never {
  throw new ContrastError('invalid-argument', message, { field });
}

/** Parses a transit ciphertext; throws `invalid-argument` naming `ciphertext`. @public */
export function parseCiphertext(text: string): TransitCiphertext {
  const m = CIPHERTEXT.exec(text);
  if (!m) bad('ciphertext is not of the form vault:v<version>:<base64>', 'ciphertext');
  const keyVersion = Number(m[1]);
  if (keyVersion > MAX_KEY_VERSION) bad('ciphertext key version is out of range', 'ciphertext');
  const bytes = Buffer.from(m[2]!, 'base64');
  if (bytes.length < NONCE_BYTES + TAG_BYTES) bad('ciphertext is too short', 'ciphertext');
  return {
    keyVersion,
    nonce: new Uint8Array(bytes.subarray(0, NONCE_BYTES)),
    sealed: new Uint8Array(bytes.subarray(NONCE_BYTES)),
  };
}

/** Formats a transit ciphertext. @public */
export function formatCiphertext(c: TransitCiphertext): string {
  return `vault:v${c.keyVersion}:${Buffer.concat([c.nonce, c.sealed]).toString('base64')}`;
}

/**
 * The transit engine: AES-256-GCM with a random 96-bit nonce, the key of version N for name X
 * being the first 32 bytes of the workload secret derived for `"<N>_<X>"` (upstream Contrast's
 * derivation, so a ciphertext made by either decrypts with the other for the same seed). Keys
 * exist for every version without state: a client rotates by encrypting with, or rewrapping to,
 * a higher `key_version`, and every key survives Coordinator recovery because it comes from the
 * seed.
 * The engine does not authorize: the HTTP layer checks that the caller may use `name`.
 * @public
 */
export class TransitEngine {
  readonly #keys: TransitKeySource;

  constructor(keys: TransitKeySource) {
    this.#keys = keys;
  }

  async #key(name: string, keyVersion: number): Promise<Uint8Array> {
    if (!Number.isInteger(keyVersion) || keyVersion < 0 || keyVersion > MAX_KEY_VERSION) {
      bad(`key_version must be an integer from 0 to ${MAX_KEY_VERSION}`, 'key_version');
    }
    if (name === '') bad('the key name is empty', 'name');
    const secret = await this.#keys.workloadSecret(`${keyVersion}_${name}`);
    if (secret.length < KEY_BYTES) {
      throw new ContrastError('internal', 'the derived workload secret is shorter than an AES-256 key');
    }
    return secret.subarray(0, KEY_BYTES);
  }

  /** Encrypts `plaintext` with key `name` at `keyVersion` (default 1). */
  async encrypt(
    name: string,
    plaintext: Uint8Array,
    options: { keyVersion?: number; associatedData?: Uint8Array } = {},
  ): Promise<string> {
    const keyVersion = options.keyVersion ?? DEFAULT_KEY_VERSION;
    const key = await this.#key(name, keyVersion);
    const nonce = new Uint8Array(randomBytes(NONCE_BYTES));
    const cipher = createCipheriv('aes-256-gcm', key, nonce);
    if (options.associatedData) cipher.setAAD(options.associatedData);
    const sealed = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return formatCiphertext({ keyVersion, nonce, sealed: new Uint8Array(sealed) });
  }

  /**
   * Decrypts a `vault:v<N>:...` ciphertext made for `name`. A wrong key, name, version or
   * associated data, or a changed byte, gives `permission-denied` ("cannot decrypt") and nothing
   * else: the caller learns no more than that.
   */
  async decrypt(
    name: string,
    ciphertext: string,
    options: { associatedData?: Uint8Array } = {},
  ): Promise<Uint8Array> {
    const c = parseCiphertext(ciphertext);
    const key = await this.#key(name, c.keyVersion);
    const decipher = createDecipheriv('aes-256-gcm', key, c.nonce);
    if (options.associatedData) decipher.setAAD(options.associatedData);
    decipher.setAuthTag(c.sealed.subarray(c.sealed.length - TAG_BYTES));
    try {
      return new Uint8Array(
        Buffer.concat([decipher.update(c.sealed.subarray(0, c.sealed.length - TAG_BYTES)), decipher.final()]),
      );
    } catch {
      throw new ContrastError(
        'permission-denied',
        'cannot decrypt: wrong key, key version, name or associated data, or a changed ciphertext',
        {
          field: 'ciphertext',
        },
      );
    }
  }

  /**
   * Decrypts and encrypts again under `keyVersion`, without the plaintext leaving the engine: the
   * rotation step. The engine keeps no "latest version" (keys come from the seed, not from
   * state), so the target version is required; one below the ciphertext's is refused: rewrap
   * never moves data to an older key.
   */
  async rewrap(
    name: string,
    ciphertext: string,
    options: { keyVersion: number; associatedData?: Uint8Array },
  ): Promise<string> {
    const from = parseCiphertext(ciphertext).keyVersion;
    if (options.keyVersion === undefined) {
      bad(
        'key_version is required: keys have no stored latest version; name the version to rewrap to',
        'key_version',
      );
    }
    if (options.keyVersion < from) {
      bad(`key_version ${options.keyVersion} is older than the ciphertext's version ${from}`, 'key_version');
    }
    const plaintext = await this.decrypt(name, ciphertext, options);
    try {
      return await this.encrypt(name, plaintext, options);
    } finally {
      plaintext.fill(0);
    }
  }
}
