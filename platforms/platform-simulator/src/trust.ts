// The simulator's trust directory. Every process that issues simulated evidence generates its own
// local key chain (the attestation package's simulators keep private keys in memory) and
// registers the chain's PUBLIC root here; every verifier trusts exactly the roots registered in
// the directory. So a Coordinator, its initializers and the CLI, in different processes, agree
// on what to trust as long as they share the directory. Whoever can write into the directory
// can make evidence accepted: that is why the simulator is insecure by definition.

import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  createSnpTrustAnchor,
  SNP_PRODUCT_LINES,
  type SnpProductLine,
  type SnpTrustAnchor,
} from '@contrast-cc/attestation/snp';
import { createTrustAnchors, type TdxTrustAnchors } from '@contrast-cc/attestation/tdx';
import { ContrastError } from '@contrast-cc/core';
import { z } from 'zod';

/** A simulated SNP root as stored: the product and the ARK and ASK certificates (PEM). */
export interface StoredSnpRoot {
  product: SnpProductLine;
  ark: string;
  ask: string;
}

/** A stored root as read back from the trust directory (a file others may write). */
const StoredSnpRootSchema = z.strictObject({
  product: z.enum(SNP_PRODUCT_LINES as [SnpProductLine, ...SnpProductLine[]]),
  ark: z.string().min(1),
  ask: z.string().min(1),
});

/** The set of simulated roots a group of processes trusts. @public */
export interface SimulatorTrust {
  readonly dir: string;
  /** Records an SNP root (idempotent). */
  registerSnpRoot(root: StoredSnpRoot): Promise<void>;
  /** Records a TDX root certificate, PEM (idempotent). */
  registerTdxRoot(pem: string): Promise<void>;
  /** Every registered SNP root as a trust anchor (stable identity while the set is unchanged). */
  snpTrustAnchors(): Promise<SnpTrustAnchor[]>;
  /** Every registered TDX root, or undefined when none is registered. */
  tdxTrustAnchors(): Promise<TdxTrustAnchors | undefined>;
}

const SNP_DIR = 'snp-roots';
const TDX_DIR = 'tdx-roots';

async function writeAtomic(file: string, data: string): Promise<void> {
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(tmp, data, { mode: 0o644 });
  await rename(tmp, file);
}

async function listFiles(dir: string, suffix: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((n) => n.endsWith(suffix)).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new ContrastError('io-error', 'cannot read the simulator trust directory', { cause: e, file: dir });
  }
}

const fingerprint = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 32);

/**
 * Opens (and creates on first registration) a simulator trust directory.
 * @public
 */
export function createSimulatorTrust(options: { dir: string }): SimulatorTrust {
  const dir = path.resolve(options.dir);
  let snpCache: { key: string; anchors: SnpTrustAnchor[] } | undefined;
  let tdxCache: { key: string; anchors: TdxTrustAnchors } | undefined;
  const register = async (sub: string, name: string, body: string) => {
    const target = path.join(dir, sub);
    try {
      await mkdir(target, { recursive: true });
      await writeAtomic(path.join(target, name), body);
    } catch (e) {
      throw new ContrastError('io-error', 'cannot write to the simulator trust directory', {
        cause: e,
        file: target,
      });
    }
  };
  return {
    dir,
    async registerSnpRoot(root) {
      const body = `${JSON.stringify({ product: root.product, ark: root.ark, ask: root.ask })}\n`;
      await register(SNP_DIR, `${fingerprint(body)}.json`, body);
    },
    async registerTdxRoot(pem) {
      await register(TDX_DIR, `${fingerprint(pem)}.pem`, pem);
    },
    async snpTrustAnchors() {
      const names = await listFiles(path.join(dir, SNP_DIR), '.json');
      const key = names.join(',');
      if (snpCache?.key === key) return snpCache.anchors;
      const anchors: SnpTrustAnchor[] = [];
      for (const name of names) {
        const file = path.join(dir, SNP_DIR, name);
        try {
          const root = StoredSnpRootSchema.parse(JSON.parse(await readFile(file, 'utf8')));
          anchors.push(createSnpTrustAnchor({ product: root.product, ark: root.ark, ask: root.ask }));
        } catch (e) {
          throw new ContrastError('invalid-argument', 'not a simulated SNP root', { cause: e, file });
        }
      }
      snpCache = { key, anchors };
      return anchors;
    },
    async tdxTrustAnchors() {
      const names = await listFiles(path.join(dir, TDX_DIR), '.pem');
      if (names.length === 0) return undefined;
      const key = names.join(',');
      if (tdxCache?.key === key) return tdxCache.anchors;
      const pems = await Promise.all(names.map((n) => readFile(path.join(dir, TDX_DIR, n), 'utf8')));
      const anchors = createTrustAnchors(pems);
      tdxCache = { key, anchors };
      return anchors;
    },
  };
}
