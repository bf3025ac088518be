import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import path from 'node:path';
import {
  ContrastError,
  type Evidence,
  type Issuer,
  type Logger,
  noopLogger,
  REPORT_DATA_LENGTH,
} from '@contrast-cc/core';

/** Where the Linux configfs-tsm report interface lives. @public */
export const TSM_REPORT_ROOT = '/sys/kernel/config/tsm/report';

/** Evidence kinds by configfs-tsm provider. @public */
export const TSM_PROVIDER_KINDS: Readonly<Record<string, string>> = Object.freeze({
  sev_guest: 'snp-report',
  tdx_guest: 'tdx-quote',
});

/** GUIDs of the SNP extended-report certificate table (GHCB specification). */
const SNP_CERT_GUIDS: Record<string, 'vcek' | 'vlek' | 'ask' | 'ark'> = {
  '63da758d-e664-4564-adc5-f4b93be8accd': 'vcek',
  'a8074bc2-a25a-483e-aae6-39c045a0b8a1': 'vlek',
  '4ab7b379-bbac-4fe4-a02f-05aef327c782': 'ask',
  'c0b406a4-a803-4952-9743-3fb6014cd0ae': 'ark',
};

/** Reads the mixed-endian GUID at `at` in its text form. */
function guidAt(b: Uint8Array, at: number): string {
  const hex = (from: number, to: number, reverse: boolean) => {
    const part = Array.from(b.subarray(at + from, at + to));
    return (reverse ? part.reverse() : part).map((x) => x.toString(16).padStart(2, '0')).join('');
  };
  return `${hex(0, 4, true)}-${hex(4, 6, true)}-${hex(6, 8, true)}-${hex(8, 10, false)}-${hex(10, 16, false)}`;
}

const derToPem = (der: Uint8Array) =>
  `-----BEGIN CERTIFICATE-----\n${(
    Buffer.from(der)
      .toString('base64')
      .match(/.{1,64}/g) ?? []
  ).join('\n')}\n-----END CERTIFICATE-----\n`;

/**
 * Parses an SNP certificate table (`auxblob`): entries of GUID(16) || offset(u32 LE) ||
 * length(u32 LE), ended by an all-zero entry; offsets are from the start of the table.
 * Returns the certificates by name. Throws `invalid-argument` naming `auxblob` when malformed.
 * @public
 */
export function parseSnpCertTable(
  table: Uint8Array,
): Partial<Record<'vcek' | 'vlek' | 'ask' | 'ark', Uint8Array>> {
  const out: Partial<Record<'vcek' | 'vlek' | 'ask' | 'ark', Uint8Array>> = {};
  const view = new DataView(table.buffer, table.byteOffset, table.byteLength);
  for (let at = 0; ; at += 24) {
    if (at + 24 > table.length) {
      throw new ContrastError('invalid-argument', 'certificate table is not terminated', {
        field: 'auxblob',
      });
    }
    const offset = view.getUint32(at + 16, true);
    const length = view.getUint32(at + 20, true);
    const guid = guidAt(table, at);
    if (guid === '00000000-0000-0000-0000-000000000000' && offset === 0 && length === 0) return out;
    if (offset + length > table.length || offset < at + 24) {
      throw new ContrastError('invalid-argument', `certificate ${guid} lies outside the table`, {
        field: 'auxblob',
      });
    }
    const name = SNP_CERT_GUIDS[guid];
    if (name) out[name] = table.slice(offset, offset + length);
  }
}

/** The file operations the issuer performs on configfs. @public */
export interface ConfigfsOps {
  mkdir(dir: string): Promise<unknown>;
  rmdir(dir: string): Promise<unknown>;
  readFile(file: string): Promise<Uint8Array>;
  writeFile(file: string, data: Uint8Array | string): Promise<unknown>;
  access(file: string): Promise<unknown>;
}

const NODE_OPS: ConfigfsOps = {
  mkdir: (d) => fs.mkdir(d),
  rmdir: (d) => fs.rmdir(d),
  readFile: async (f) => new Uint8Array(await fs.readFile(f)),
  writeFile: (f, data) => fs.writeFile(f, data),
  access: (f) => fs.access(f),
};

const text = (b: Uint8Array) => new TextDecoder().decode(b).trim();

/** Options of {@link ConfigfsTsmIssuer}. @public */
export interface ConfigfsTsmOptions {
  /** The report directory; default {@link TSM_REPORT_ROOT}. Tests point it at a temp directory. */
  root?: string;
  /** SNP VMPL to request (`privlevel`); left alone when absent. */
  privlevel?: number;
  /**
   * The file operations used on the interface; default node:fs/promises. Tests pass operations
   * that emulate what the kernel does on a temp directory (populating a new entry, producing
   * `outblob` when `inblob` is written).
   */
  ops?: ConfigfsOps;
  logger?: Logger;
  /**
   * SNP: where the VCEK and ASK/ARK come from when `auxblob` carries none (the host has no
   * extended-report certificates), e.g. THIM on AKS (`createAksVcekSource` of
   * `@contrast-cc/platform-aks`). A failure is logged and the evidence goes out without them (a
   * verifier with a KDS source can still fetch them).
   */
  snpCertificates?: (report: Uint8Array) => Promise<{ vcek: Uint8Array; certChain: string }>;
}

/**
 * An issuer on Linux's configfs-tsm report interface, as in SNP and TDX guests. Each report is
 * one entry directory: `mkdir <root>/<name>`; read `generation`; optionally write `privlevel`
 * (SNP VMPL, not below `privlevel_floor`); write REPORT_DATA to `inblob`; read `generation` (it
 * must have grown by exactly our writes), `outblob` (the report or quote) and `auxblob` (SNP
 * certificate table, GUID table of the GHCB specification), then `generation` again (unchanged);
 * otherwise another writer raced us and the entry is retried; `rmdir` the entry.
 * @public
 */
export class ConfigfsTsmIssuer implements Issuer {
  readonly kind: string;
  readonly #root: string;
  readonly #options: ConfigfsTsmOptions;
  readonly #log: Logger;

  private constructor(kind: string, root: string, options: ConfigfsTsmOptions) {
    this.kind = kind;
    this.#root = root;
    this.#options = options;
    this.#log = (options.logger ?? noopLogger).child({ component: 'tsm-issuer' });
  }

  /**
   * Opens the interface and learns the provider (`sev_guest`, `tdx_guest`) from a probe entry.
   * Throws `unavailable` when there is no configfs-tsm (not a confidential guest).
   */
  static async open(options: ConfigfsTsmOptions = {}): Promise<ConfigfsTsmIssuer> {
    const root = options.root ?? TSM_REPORT_ROOT;
    const ops = options.ops ?? NODE_OPS;
    try {
      await ops.access(root);
    } catch (cause) {
      throw new ContrastError('unavailable', `no configfs-tsm report interface at ${root}`, {
        cause,
        file: root,
      });
    }
    const probe = path.join(root, `contrast-probe-${process.pid}-${randomBytes(4).toString('hex')}`);
    let provider: string;
    try {
      await ops.mkdir(probe);
      provider = text(await ops.readFile(path.join(probe, 'provider')));
    } catch (cause) {
      throw new ContrastError('unavailable', 'cannot read the configfs-tsm provider', { cause, file: probe });
    } finally {
      await ops.rmdir(probe).catch(() => undefined);
    }
    const kind = TSM_PROVIDER_KINDS[provider];
    if (!kind) {
      throw new ContrastError('unavailable', `unknown configfs-tsm provider "${provider}"`, {
        field: 'provider',
      });
    }
    return new ConfigfsTsmIssuer(kind, root, options);
  }

  async issue(reportData: Uint8Array): Promise<Evidence> {
    if (reportData.length !== REPORT_DATA_LENGTH) {
      throw new ContrastError('invalid-argument', `report data must be ${REPORT_DATA_LENGTH} bytes`, {
        field: 'reportData',
      });
    }
    const ops = this.#options.ops ?? NODE_OPS;
    for (let attempt = 0; attempt < 5; attempt++) {
      const entry = path.join(this.#root, `contrast-${process.pid}-${randomBytes(6).toString('hex')}`);
      try {
        await ops.mkdir(entry);
      } catch (cause) {
        throw new ContrastError('io-error', 'cannot create a configfs-tsm report entry', {
          cause,
          file: entry,
        });
      }
      try {
        // The kernel bumps `generation` on every write of inblob or an option. Read it before our
        // writes and expect exactly our writes on top; then read it again after the blobs: any
        // other value means another writer used this entry, and the blobs may be theirs.
        const start = Number(text(await ops.readFile(path.join(entry, 'generation'))));
        let writes = 0;
        if (this.#options.privlevel !== undefined && this.kind === 'snp-report') {
          const floor = await ops
            .readFile(path.join(entry, 'privlevel_floor'))
            .then((b) => Number(text(b)))
            .catch(() => 0);
          if (this.#options.privlevel < floor) {
            throw new ContrastError(
              'invalid-argument',
              `privlevel ${this.#options.privlevel} is below this guest's privlevel_floor ${floor}`,
              { field: 'privlevel' },
            );
          }
          await ops.writeFile(path.join(entry, 'privlevel'), String(this.#options.privlevel));
          writes++;
        }
        await ops.writeFile(path.join(entry, 'inblob'), reportData);
        writes++;
        const before = text(await ops.readFile(path.join(entry, 'generation')));
        const data = await ops.readFile(path.join(entry, 'outblob'));
        let aux: Uint8Array | undefined;
        if (this.kind === 'snp-report') {
          aux = await ops.readFile(path.join(entry, 'auxblob')).catch(() => undefined);
        }
        const after = text(await ops.readFile(path.join(entry, 'generation')));
        if (Number(before) !== start + writes || before !== after) {
          this.#log.warn('configfs-tsm entry changed by another writer; retrying', {
            attempt,
            expected: start + writes,
            before,
            after,
          });
          continue;
        }
        if (
          this.kind === 'snp-report' &&
          data.length >= 0x90 &&
          !Buffer.from(data.subarray(0x50, 0x90)).equals(Buffer.from(reportData))
        ) {
          this.#log.warn('configfs-tsm returned a report for other REPORT_DATA; retrying', { attempt });
          continue;
        }
        if (data.length === 0) {
          throw new ContrastError('io-error', 'configfs-tsm returned an empty report', { file: entry });
        }
        const evidence: Evidence = { kind: this.kind, data };
        const extras: Record<string, Uint8Array> = {};
        if (aux && aux.length > 0) {
          const certs = parseSnpCertTable(aux);
          extras.auxblob = aux;
          const endorsement = certs.vcek ?? certs.vlek;
          if (endorsement) extras.vcek = endorsement;
          if (certs.ask && certs.ark) {
            extras['cert-chain'] = new TextEncoder().encode(derToPem(certs.ask) + derToPem(certs.ark));
          }
        }
        if (this.kind === 'snp-report' && !extras.vcek && this.#options.snpCertificates) {
          try {
            const c = await this.#options.snpCertificates(data);
            extras.vcek = c.vcek;
            extras['cert-chain'] = new TextEncoder().encode(c.certChain);
          } catch (e) {
            this.#log.warn('no certificates for the report (auxblob empty, fallback failed)', {
              error: e instanceof Error ? e.message : String(e),
            });
          }
        }
        if (Object.keys(extras).length > 0) evidence.extras = extras;
        this.#log.debug('issued evidence', { kind: this.kind, bytes: data.length });
        return evidence;
      } catch (cause) {
        if (cause instanceof ContrastError) throw cause;
        throw new ContrastError('io-error', 'reading the configfs-tsm report failed', { cause, file: entry });
      } finally {
        await ops.rmdir(entry).catch(() => undefined);
      }
    }
    throw new ContrastError('unavailable', 'configfs-tsm kept changing under us (another writer?)');
  }
}
