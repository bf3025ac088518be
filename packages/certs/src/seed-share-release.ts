// k-of-n recovery, the owner side and the checks both the CLI and the Coordinator run on a set of
// released shares. An owner opens their share of a split seed-share document offline and signs it
// (`releaseSeedShare`); a collector sends k released shares sealed to the attested Coordinator,
// which checks them (`checkReleasedShares`) and only then combines them (`combineShares`): the
// seed is assembled nowhere else.
import {
  constants,
  createHash,
  createPublicKey,
  sign as cryptoSign,
  verify as cryptoVerify,
} from 'node:crypto';
import { ContrastError, type ContrastErrorCode, concatBytes, fromHex } from '@contrast-cc/core';
import { type PrivateKeyInput, toPrivateKey } from './keys.js';
import { SALT_LENGTH } from './seed-engine.js';
import { openSeedShare, type SeedShareDocument, seedShareOwnerId, seedShareOwnerKey } from './seed-shares.js';

/** The label of a released share's owner signature (domain separation). @public */
export const RELEASED_SHARE_LABEL = 'contrast-ts released seed share v1';

/**
 * One owner's decrypted Shamir share of a k-of-n split seed, signed by that owner: what
 * `contrast recover --decrypt-share` writes. It is secret (k of them give the seed): keep it 0600
 * and hand it only to the recovery; it travels to the Coordinator sealed to its attested key.
 * @public
 */
export interface ReleasedSeedShare {
  /** Format marker. */
  version: 'v1';
  /** base64 of the 32-byte salt of the seed-share document: names the seed the share belongs to. */
  salt: string;
  /** Hex of the owner's PKCS#1 RSA public key, as in `SeedshareOwnerPubKeys`. */
  owner: string;
  /** base64 of the Shamir share (`version || threshold || x || y`, see `splitSecret`). */
  share: string;
  /** base64 RSA-PSS-SHA256 (salt length 32) by the owner over {@link releasedShareSignedMessage}. */
  signature: string;
}

/** Why a set of released shares was refused; each is its own refusal. @public */
export type SeedShareProblem =
  /** Fewer distinct shares than the threshold. */
  | 'too-few'
  /** The same owner's share (or the same share index) twice. */
  | 'duplicate'
  /** From another manifest (owner not listed, another k) or another seed (salt, history). */
  | 'foreign'
  /** Changed after its owner released it: the owner's signature does not verify, or malformed. */
  | 'tampered';

const PROBLEM_CODE: Record<SeedShareProblem, ContrastErrorCode> = {
  'too-few': 'invalid-argument',
  duplicate: 'invalid-argument',
  foreign: 'permission-denied',
  tampered: 'permission-denied',
};

/**
 * A refused set of released shares. `index` (and `otherIndex` for a duplicate) are positions in
 * the given list, so a caller can name its files. Messages name owners by key fingerprint only.
 * @public
 */
export class SeedShareSetError extends ContrastError {
  readonly problem: SeedShareProblem;
  readonly index: number | undefined;
  readonly otherIndex: number | undefined;

  constructor(
    problem: SeedShareProblem,
    message: string,
    options: { index?: number; otherIndex?: number; cause?: unknown } = {},
  ) {
    super(PROBLEM_CODE[problem], message, {
      field: options.index === undefined ? 'shares' : `shares[${options.index}]`,
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    });
    this.name = 'SeedShareSetError';
    this.problem = problem;
    this.index = options.index;
    this.otherIndex = options.otherIndex;
  }
}

const SHARE_VERSION = 1;
const SHARE_HEADER = 3;

function u32(n: number): Uint8Array {
  return Uint8Array.of((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

/**
 * The bytes an owner signs to release a share: each part prefixed with its u32 big-endian length,
 * `label || salt || owner PKCS#1 DER || share`.
 * @public
 */
export function releasedShareSignedMessage(
  salt: Uint8Array,
  ownerDer: Uint8Array,
  share: Uint8Array,
): Uint8Array {
  const parts = [new TextEncoder().encode(RELEASED_SHARE_LABEL), salt, ownerDer, share];
  return concatBytes(...parts.flatMap((p) => [u32(p.length), p]));
}

/** A short, public name of an owner key for messages: `sha256:` and 16 hex digits of its DER. @public */
export function seedShareOwnerFingerprint(ownerHex: string): string {
  return `sha256:${createHash('sha256').update(Buffer.from(ownerHex, 'hex')).digest('hex').slice(0, 16)}`;
}

const PSS = { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } as const;

/**
 * The owner side of k-of-n recovery, offline: opens this owner's share of a split seed-share
 * document with their RSA private key and signs it. Throws `invalid-argument` for a document that
 * is not split (recover with the key directly), `not-found` / `permission-denied` as
 * `openSeedShare` for a key that has no share in it.
 * @public
 */
export function releaseSeedShare(
  document: SeedShareDocument,
  ownerPrivateKey: PrivateKeyInput,
): ReleasedSeedShare {
  const threshold = document.Threshold;
  if (threshold === undefined || threshold < 2) {
    throw new ContrastError(
      'invalid-argument',
      'the seed-share document is not split (each owner holds the whole seed): recover with your key directly',
      { field: 'Threshold' },
    );
  }
  const key = toPrivateKey(ownerPrivateKey, 'ownerPrivateKey');
  const salt = new Uint8Array(Buffer.from(document.salt, 'base64'));
  if (salt.length !== SALT_LENGTH) {
    throw new ContrastError('invalid-argument', `salt must be base64 of ${SALT_LENGTH} bytes`, {
      field: 'salt',
    });
  }
  const share = openSeedShare(document, key);
  try {
    if (
      share.length <= SHARE_HEADER ||
      share[0] !== SHARE_VERSION ||
      share[1] !== threshold ||
      share[2] === 0
    ) {
      throw new ContrastError(
        'invalid-argument',
        `the opened share is not a share of a ${threshold}-of-n split`,
        {
          field: 'Threshold',
        },
      );
    }
    const owner = seedShareOwnerId(createPublicKey(key));
    const ownerDer = fromHex(owner);
    const signature = cryptoSign('sha256', releasedShareSignedMessage(salt, ownerDer, share), {
      key,
      ...PSS,
    });
    return {
      version: 'v1',
      salt: document.salt,
      owner,
      share: Buffer.from(share).toString('base64'),
      signature: signature.toString('base64'),
    };
  } finally {
    share.fill(0);
  }
}

/** What {@link checkReleasedShares} checks a set against: the manifest's owners and k. @public */
export interface ReleasedShareExpectations {
  /** `SeedshareOwnerPubKeys` of the manifest (hex PKCS#1). */
  ownerKeys: readonly string[];
  /** `SeedshareThreshold` of the manifest (k >= 2 for a split seed). */
  threshold: number;
  /** The salt of the seed-share document at hand, when known (a share of another seed is foreign). */
  salt?: Uint8Array;
}

/** The checked content of a set of released shares: the salt and the raw Shamir shares (secret). @public */
export interface CheckedShares {
  salt: Uint8Array;
  /** Distinct shares, at least k; wipe them after use. */
  shares: Uint8Array[];
}

function decodeBase64(value: string, index: number, what: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) {
    throw new SeedShareSetError('tampered', `share ${index + 1}: ${what} is not base64`, { index });
  }
  return new Uint8Array(Buffer.from(value, 'base64'));
}

/**
 * Checks released shares before anything combines them, in this order, each a distinct
 * {@link SeedShareSetError}: `foreign` (owner not in the manifest), `tampered` (owner signature,
 * format), `foreign` (split with another k, or of another seed: salt differs from the first share
 * or from `expect.salt`), `duplicate` (the same owner or share index twice), `too-few` (fewer
 * than k distinct shares: "2 of 3 shares needed, 1 given"). Never puts share bytes in a message.
 * @public
 */
export function checkReleasedShares(
  released: readonly ReleasedSeedShare[],
  expect: ReleasedShareExpectations,
): CheckedShares {
  const owners = new Set(expect.ownerKeys.map((k) => k.toLowerCase()));
  const n = owners.size;
  const k = expect.threshold;
  let salt: Uint8Array | undefined = expect.salt;
  let saltFrom: number | undefined;
  const byOwner = new Map<string, number>();
  const byIndex = new Map<number, number>();
  const shares: Uint8Array[] = [];
  const fail = (e: SeedShareSetError): never => {
    for (const s of shares) s.fill(0);
    throw e;
  };
  released.forEach((r, i) => {
    const owner = String(r.owner).toLowerCase();
    const who = `share ${i + 1} (owner ${/^[0-9a-f]+$/.test(owner) ? seedShareOwnerFingerprint(owner) : '?'})`;
    if (!owners.has(owner)) {
      fail(
        new SeedShareSetError(
          'foreign',
          `${who}: released by a key that is not a seed-share owner of this manifest`,
          {
            index: i,
          },
        ),
      );
    }
    const shareSalt = decodeBase64(r.salt, i, 'salt');
    const share = decodeBase64(r.share, i, 'share');
    const signature = decodeBase64(r.signature, i, 'signature');
    let signed = false;
    try {
      signed = cryptoVerify(
        'sha256',
        releasedShareSignedMessage(shareSalt, fromHex(owner), share),
        { key: seedShareOwnerKey(owner), ...PSS },
        signature,
      );
    } catch {
      signed = false;
    }
    if (!signed) {
      share.fill(0);
      fail(
        new SeedShareSetError(
          'tampered',
          `${who}: the owner's signature does not verify: the share was changed after its owner released it`,
          { index: i },
        ),
      );
    }
    shares.push(share);
    if (share.length <= SHARE_HEADER || share[0] !== SHARE_VERSION || share[2] === 0) {
      fail(new SeedShareSetError('tampered', `${who}: not a share in the v1 format`, { index: i }));
    }
    if (share[1] !== k) {
      fail(
        new SeedShareSetError(
          'foreign',
          `${who}: split ${share[1]}-of-n, this manifest needs ${k} of ${n}: a share of another manifest`,
          { index: i },
        ),
      );
    }
    if (salt === undefined) {
      salt = shareSalt;
      saltFrom = i;
    } else if (Buffer.compare(Buffer.from(salt), Buffer.from(shareSalt)) !== 0) {
      fail(
        new SeedShareSetError(
          'foreign',
          `${who}: a share of another seed (its salt differs from ${saltFrom === undefined ? "the seed-share document's" : `share ${saltFrom + 1}'s`}): from another deployment or an earlier generation`,
          { index: i },
        ),
      );
    }
    const sameOwner = byOwner.get(owner);
    if (sameOwner !== undefined) {
      fail(
        new SeedShareSetError('duplicate', `${who}: the same owner's share as share ${sameOwner + 1}`, {
          index: i,
          otherIndex: sameOwner,
        }),
      );
    }
    const x = share[2]!;
    const sameIndex = byIndex.get(x);
    if (sameIndex !== undefined) {
      fail(
        new SeedShareSetError('duplicate', `${who}: the same share index as share ${sameIndex + 1}`, {
          index: i,
          otherIndex: sameIndex,
        }),
      );
    }
    byOwner.set(owner, i);
    byIndex.set(x, i);
  });
  if (shares.length < k) {
    fail(new SeedShareSetError('too-few', `${k} of ${n} shares needed, ${shares.length} given`));
  }
  if (salt === undefined || salt.length !== SALT_LENGTH) {
    fail(new SeedShareSetError('tampered', `the salt must be ${SALT_LENGTH} bytes`));
  }
  return { salt: salt as Uint8Array, shares };
}
