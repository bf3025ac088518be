import { generateKeyPairSync } from 'node:crypto';
import type { Manifest } from '../schema.js';

export const COORDINATOR_HASH = 'c0'.repeat(32);
export const WEB_HASH = '99dd77cb'.repeat(8);

export function snpValues(): Record<string, unknown> {
  return {
    Platform: 'Metal-QEMU-SNP',
    ProductName: 'Genoa',
    TrustedMeasurement: 'ab'.repeat(48),
    APEIP: '0000fffe',
    MinimumTCB: { BootloaderVersion: 9, TEEVersion: 0, SNPVersion: 23, MicrocodeVersion: 72 },
    GuestPolicy: {
      ABIMinor: 0,
      ABIMajor: 0,
      SMT: true,
      MigrateMA: false,
      Debug: false,
      SingleSocket: false,
      CXLAllowed: false,
      MemAES256XTS: false,
      RAPLDis: false,
      CipherTextHidingDRAM: false,
    },
    PlatformInfo: { SMTEnabled: true },
    MinimumMitigationVector: 0,
    AllowedChipIDs: null,
  };
}

export function tdxValues(): Record<string, unknown> {
  return {
    Platform: 'Metal-QEMU-TDX',
    MrTd: '11'.repeat(48),
    MrSeam: '22'.repeat(48),
    Rtmrs: ['30', '31', '32', '33'].map((b) => b.repeat(48)),
    Rtmr0Alternatives: [],
    Xfam: 'e702060000000000',
    AllowedPIIDs: null,
    MemoryIntegrity: false,
    SMTDisabled: false,
    StaticPlatform: false,
    MinTCBEvaluationDataNumber: 0,
  };
}

let cachedKeys: { ecHex: string; rsaHex: string; ecPem: string; rsaPem: string } | undefined;

/** One P-384 and one RSA-2048 key (RSA-4096 is slow to make; size is not a manifest rule). */
export function testKeys(): { ecHex: string; rsaHex: string; ecPem: string; rsaPem: string } {
  if (!cachedKeys) {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    cachedKeys = {
      ecHex: ec.publicKey.export({ format: 'der', type: 'spki' }).toString('hex'),
      rsaHex: rsa.publicKey.export({ format: 'der', type: 'pkcs1' }).toString('hex'),
      ecPem: ec.privateKey.export({ format: 'pem', type: 'sec1' }) as string,
      rsaPem: rsa.privateKey.export({ format: 'pem', type: 'pkcs1' }) as string,
    };
  }
  return cachedKeys;
}

/** A complete, valid v1.25-shape manifest as plain JSON data. */
export function validManifest(): Record<string, unknown> & Manifest {
  const keys = testKeys();
  return {
    Policies: {
      [WEB_HASH]: { SANs: ['web', '*'], WorkloadSecretID: 'apps/v1/Deployment/default/web' },
      [COORDINATOR_HASH]: {
        SANs: ['coordinator', '*'],
        WorkloadSecretID: 'apps/v1/StatefulSet/default/coordinator',
        Role: 'coordinator',
      },
    },
    ReferenceValues: { snp: [snpValues()], tdx: [tdxValues()] },
    WorkloadOwnerPubKeys: [keys.ecHex],
    SeedshareOwnerPubKeys: [keys.rsaHex],
  } as Record<string, unknown> & Manifest;
}
