import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
  randomBytes,
} from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { reportDataPreimage } from '@contrast-cc/atls';
import { ContrastError, concatBytes, spkiProblem } from '@contrast-cc/core';
import { API_LABELS, type CoordinatorStateBinding, coordinatorStatePreimage, framed } from './state.js';

export { API_LABELS, type CoordinatorStateBinding } from './state.js';

const sha256 = (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest());
const utf8 = (s: string) => new TextEncoder().encode(s);

/**
 * The state digest bound into the Coordinator's attestation:
 * `sha256(framed(label, status byte, transitionHash(32 or empty), sha256(rootCA DER) or empty,
 * sha256(meshCA DER) or empty))`, where `framed` prefixes each part with its u32 big-endian length.
 * (`coordinatorStateDigestAsync` computes the same with WebCrypto.)
 * @public
 */
export function coordinatorStateDigest(state: CoordinatorStateBinding): Uint8Array {
  return sha256(
    coordinatorStatePreimage(
      state,
      state.rootCaDer ? sha256(state.rootCaDer) : undefined,
      state.meshCaDer ? sha256(state.meshCaDer) : undefined,
    ),
  );
}

/**
 * REPORT_DATA of an initializer's evidence for `POST /v1/mesh/cert` with a nonce challenge:
 * `reportDataFor({label: "contrast-ts mesh cert v1", nonce, publicKey: SPKI of the certificate key,
 * stateDigest: sha256(SPKI of the Coordinator's TLS key as the initializer saw it)})`.
 * Binding the Coordinator's TLS key stops a relay that would terminate TLS itself and forward
 * the evidence (it would receive the workload secret otherwise).
 * @public
 */
export function meshCertReportData(
  nonce: Uint8Array,
  certificateSpki: Uint8Array,
  coordinatorSpki: Uint8Array,
): Promise<Uint8Array> {
  return meshCertDigest(API_LABELS.meshCert, nonce, certificateSpki, coordinatorSpki);
}

/**
 * REPORT_DATA of an initializer's evidence for `POST /v1/mesh/cert` bound to its TLS connection
 * (no nonce in the request): as {@link meshCertReportData}, with the connection's
 * {@link tlsExporterBinding} in the nonce's place and its own label
 * (`"contrast-ts mesh cert tls-exporter v1"`), so evidence made for one mode is never accepted in
 * the other.
 * @public
 */
export function meshCertChannelReportData(
  exporter: Uint8Array,
  certificateSpki: Uint8Array,
  coordinatorSpki: Uint8Array,
): Promise<Uint8Array> {
  if (!(exporter instanceof Uint8Array) || exporter.length !== TLS_EXPORTER_LENGTH) {
    return Promise.reject(
      new ContrastError('invalid-argument', `the channel binding must be ${TLS_EXPORTER_LENGTH} bytes`, {
        field: 'channelBinding',
      }),
    );
  }
  return meshCertDigest(API_LABELS.meshCertChannel, exporter, certificateSpki, coordinatorSpki);
}

function meshCertDigest(
  label: string,
  nonce: Uint8Array,
  certificateSpki: Uint8Array,
  coordinatorSpki: Uint8Array,
): Promise<Uint8Array> {
  // The same bytes as atls' reportDataFor (SHA-512 of reportDataPreimage), hashed synchronously
  // with node:crypto: WebCrypto's digest costs a thread-pool round trip per call, which shows on
  // the Coordinator's per-certificate path. Bad input still rejects rather than throws.
  try {
    const preimage = reportDataPreimage({
      label,
      nonce,
      publicKey: certificateSpki,
      stateDigest: sha256(coordinatorSpki),
    });
    return Promise.resolve(new Uint8Array(createHash('sha512').update(preimage).digest()));
  } catch (e) {
    return Promise.reject(e);
  }
}

/** The exporter label of RFC 9266 ("tls-exporter" channel binding). */
export const TLS_EXPORTER_LABEL = 'EXPORTER-Channel-Binding';
/** Bytes of a {@link tlsExporterBinding} (RFC 9266: 32). */
export const TLS_EXPORTER_LENGTH = 32;

/**
 * The RFC 9266 "tls-exporter" channel binding of a TLS 1.3 connection: 32 bytes of the TLS
 * exporter (RFC 8446 §7.5) with label `EXPORTER-Channel-Binding` and no context. Both ends of a
 * connection compute the same value; it derives from the handshake (both randoms, the ECDHE
 * secret), so no other connection has it and no one outside the connection can compute it.
 * `undefined` on anything but a TLS 1.3 connection (RFC 9266 requires TLS 1.3, or TLS 1.2 with
 * the extended master secret, which node does not tell us; we use 1.3 only). Call it once the
 * handshake completed (before it, node throws and this returns `undefined`).
 * @public
 */
export function tlsExporterBinding(socket: TLSSocket): Uint8Array | undefined {
  if (socket.destroyed || typeof socket.exportKeyingMaterial !== 'function') return undefined;
  // Call it after the handshake: before it, getProtocol() names the configured version.
  if (socket.getProtocol() !== 'TLSv1.3') return undefined;
  try {
    // TLS 1.3 makes no difference between no context and an empty one (RFC 8446 §7.5).
    const out = socket.exportKeyingMaterial(TLS_EXPORTER_LENGTH, TLS_EXPORTER_LABEL, Buffer.alloc(0));
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch {
    return undefined;
  }
}

/** A recovery secret sealed to the Coordinator's attested TLS key. @public */
export interface SealedSecret {
  /** SPKI DER of the ephemeral P-256 key. */
  ephemeralPublicKey: Uint8Array;
  /** iv(12) || ciphertext || tag(16). */
  ciphertext: Uint8Array;
}

function sealKey(
  shared: Uint8Array,
  nonce: Uint8Array,
  ephemeralSpki: Uint8Array,
  recipientSpki: Uint8Array,
  label: string,
) {
  return new Uint8Array(
    hkdfSync('sha256', shared, nonce, framed(utf8(label), ephemeralSpki, recipientSpki), 32),
  );
}

function spkiOf(key: KeyObject): Uint8Array {
  return new Uint8Array(key.export({ type: 'spki', format: 'der' }));
}

/**
 * ECIES to an EC public key (the one sealing implementation of this package): an ephemeral key of
 * the same curve, ECDH, HKDF-SHA256(shared, salt = nonce, info = framed(label, ephemeral SPKI,
 * recipient SPKI)) -> AES-256-GCM key, random 12-byte iv, the nonce as additional data. `label`
 * separates what is sealed (a seed, a set of released shares).
 */
export function sealBytes(
  recipientSpki: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  label: string,
): SealedSecret {
  let recipient: KeyObject;
  try {
    // Checked first: node imports an EC key at the point at infinity and aborts on its details.
    if (spkiProblem(recipientSpki)) throw new Error('not a valid SPKI');
    recipient = createPublicKey({ key: Buffer.from(recipientSpki), format: 'der', type: 'spki' });
  } catch {
    throw new ContrastError('invalid-argument', 'not an SPKI public key', { field: 'recipientSpki' });
  }
  const curve = recipient.asymmetricKeyDetails?.namedCurve;
  if (recipient.asymmetricKeyType !== 'ec' || !curve) {
    throw new ContrastError('invalid-argument', 'the Coordinator key must be an EC key', {
      field: 'recipientSpki',
    });
  }
  const eph = generateKeyPairSync('ec', { namedCurve: curve });
  const ephSpki = spkiOf(eph.publicKey);
  const shared = new Uint8Array(diffieHellman({ privateKey: eph.privateKey, publicKey: recipient }));
  const key = sealKey(shared, nonce, ephSpki, recipientSpki, label);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(nonce);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  key.fill(0);
  shared.fill(0);
  return { ephemeralPublicKey: ephSpki, ciphertext: concatBytes(iv, body, cipher.getAuthTag()) };
}

/**
 * Opens what {@link sealBytes} sealed with the same label. Throws `permission-denied` (never
 * echoing the content) when it does not open or holds fewer than `minLength` bytes.
 */
export function openBytes(
  recipientKey: KeyObject,
  nonce: Uint8Array,
  sealed: SealedSecret,
  label: string,
  minLength: number,
): Uint8Array {
  const fail = () =>
    new ContrastError('permission-denied', 'the sealed recovery secret does not open with this key', {
      field: 'ciphertext',
    });
  if (sealed.ciphertext.length < 12 + 16 + minLength) throw fail();
  let shared: Uint8Array;
  try {
    const eph = createPublicKey({ key: Buffer.from(sealed.ephemeralPublicKey), format: 'der', type: 'spki' });
    shared = new Uint8Array(diffieHellman({ privateKey: recipientKey, publicKey: eph }));
  } catch {
    throw new ContrastError('invalid-argument', 'not a valid ephemeral public key', {
      field: 'ephemeral_public_key',
    });
  }
  const key = sealKey(shared, nonce, sealed.ephemeralPublicKey, spkiOf(createPublicKey(recipientKey)), label);
  const c = sealed.ciphertext;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, c.subarray(0, 12));
    decipher.setAAD(nonce);
    decipher.setAuthTag(c.subarray(c.length - 16));
    return new Uint8Array(Buffer.concat([decipher.update(c.subarray(12, c.length - 16)), decipher.final()]));
  } catch {
    throw fail();
  } finally {
    key.fill(0);
    shared.fill(0);
  }
}

/**
 * Seals `salt(32) || seed` to the Coordinator's TLS public key ({@link sealBytes} with the label
 * `API_LABELS.recoverSeal`).
 * @public
 */
export function sealRecoverySecret(
  recipientSpki: Uint8Array,
  nonce: Uint8Array,
  seed: Uint8Array,
  salt: Uint8Array,
): SealedSecret {
  const plain = concatBytes(salt, seed);
  try {
    return sealBytes(recipientSpki, nonce, plain, API_LABELS.recoverSeal);
  } finally {
    plain.fill(0);
  }
}

/**
 * Opens a sealed recovery secret with the Coordinator's TLS private key. Throws
 * `permission-denied` (never echoing the content) when it does not open.
 * @public
 */
export function openRecoverySecret(
  recipientKey: KeyObject,
  nonce: Uint8Array,
  sealed: SealedSecret,
): { seed: Uint8Array; salt: Uint8Array } {
  const plain = openBytes(recipientKey, nonce, sealed, API_LABELS.recoverSeal, 32 + 32);
  const out = { salt: plain.slice(0, 32), seed: plain.slice(32) };
  plain.fill(0);
  return out;
}

/**
 * The bytes a seed-share owner signs (RSA-PSS-SHA256, salt length 32) to authorize a recovery:
 * `framed(label, nonce, Coordinator TLS SPKI, force byte, ephemeral SPKI, ciphertext)`.
 * @public
 */
export function recoverSignedMessage(input: {
  nonce: Uint8Array;
  coordinatorSpki: Uint8Array;
  force: boolean;
  sealed: SealedSecret;
}): Uint8Array {
  return framed(
    utf8(API_LABELS.recoverSign),
    input.nonce,
    input.coordinatorSpki,
    Uint8Array.of(input.force ? 1 : 0),
    input.sealed.ephemeralPublicKey,
    input.sealed.ciphertext,
  );
}
