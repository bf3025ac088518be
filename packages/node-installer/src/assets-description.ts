// A runtime assets description: what a user (or a release) says about the runtime to install —
// the files with their digests, the images by digest, the VM settings, and the launch
// measurements (given, or computed here from local copies of the firmware and kernel). Nothing
// in it may be a placeholder: an all-zero digest is refused like a missing one.

import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ContrastError } from '@contrast-cc/core';
import { z } from 'zod';
import { snpLaunchDigest } from './measure/snp.js';
import { type TdxPageAddOrder, tdxMrtd } from './measure/tdx.js';
import type { QemuTee } from './qemu-runtime.js';
import {
  RUNTIME_ROOT,
  type RuntimeAssets,
  type RuntimeFile,
  type SnpLaunchMeasurements,
  type TdxLaunchMeasurements,
} from './runtime-assets.js';

/** The file name looked up when `--assets` names a directory. @public */
export const RUNTIME_ASSETS_FILE = 'runtime-assets.json';

const notZero = (s: string) => !/^0+$/.test(s);
const hex = (bytes: number, what: string) =>
  z
    .string()
    .regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`), `must be ${bytes * 2} lower-case hex digits (${what})`)
    .refine(notZero, 'is all zeros: a placeholder, not a digest');
const imageRef = z
  .string()
  .regex(/^[^\s@]+@sha256:[0-9a-f]{64}$/, 'must be an image pinned by digest (<name>@sha256:<64 hex>)')
  .refine((s) => notZero(s.slice(-64)), 'has an all-zero digest: a placeholder, not a digest');
const relative = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith('/') && !p.split('/').includes('..') && !/[\t\n\r]/.test(p), {
    message: 'must be a relative path without ".." (below the runtime directory)',
  });

const fileSchema = z
  .object({
    /** Where the installer places it, relative to /opt/edgeless/<handler>/. */
    path: relative,
    /** Where the installer gets it on the node: https:// or file:/// (inside the installer image). */
    url: z.string().regex(/^(https:\/\/\S+|file:\/\/\/\S+)$/, 'must be an https:// or file:/// URL'),
    sha256: hex(32, 'sha256 of the file').optional(),
    /** A local copy (relative to the description) to compute or check the digest and to measure. */
    source: z.string().min(1).optional(),
    executable: z.boolean().default(false),
  })
  .strict();

const snpMeasurements = z
  .object({ Milan: hex(48, 'SNP launch digest'), Genoa: hex(48, 'SNP launch digest') })
  .strict();
const tdxMeasurements = z
  .object({
    mrTd: hex(48, 'MRTD').optional(),
    rtmrs: z.tuple([hex(48, 'RTMR0'), hex(48, 'RTMR1'), hex(48, 'RTMR2'), hex(48, 'RTMR3')]).optional(),
    rtmr0Alternatives: z.array(hex(48, 'RTMR0')).default([]),
  })
  .strict();

const descriptionSchema = z
  .object({
    platform: z.string().min(1),
    release: z.string().min(1),
    installerImage: imageRef,
    snapshotterImage: imageRef,
    kernelParams: z.string(),
    vmMemoryMiB: z.number().int().min(64),
    files: z.array(fileSchema).min(1),
    launchMeasurements: z.record(z.string(), z.unknown()).optional(),
    measure: z
      .object({
        /** The `path` of the firmware among `files` (its `source` is read). */
        firmware: z.string(),
        kernel: z.string().optional(),
        initrd: z.string().optional(),
        /** The whole kernel command line QEMU passes (Kata appends its own parameters). */
        append: z.string().optional(),
        guestFeatures: z
          .string()
          .regex(/^0x[0-9a-fA-F]{1,16}$/)
          .optional(),
        pageAddOrder: z.enum(['single-pass', 'two-pass']).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

/** The JSON form of a runtime assets description (`runtime-assets.json`). @public */
export type RuntimeAssetsDescription = z.input<typeof descriptionSchema>;

/** What {@link loadRuntimeAssets} returns: the platform the description is for and its assets. @public */
export type LoadedRuntimeAssets =
  | { platformId: string; tee: 'snp'; assets: RuntimeAssets<SnpLaunchMeasurements> }
  | { platformId: string; tee: 'tdx'; assets: RuntimeAssets<TdxLaunchMeasurements> };

function fail(file: string, field: string, message: string): never {
  throw new ContrastError('invalid-argument', `${file}: ${field}: ${message}`, { file, field });
}

const sri = (digest: Buffer) => `sha256-${digest.toString('base64')}`;

/**
 * Reads a runtime assets description (a JSON file, or a directory holding
 * {@link RUNTIME_ASSETS_FILE}), checks every local `source` against its `sha256` (or computes
 * the digest from it), and computes the launch measurements from the `measure` block (checking
 * given ones against them). `teeOf` says which TEE a platform id runs (undefined: not a platform
 * that installs its own runtime). Throws `invalid-argument` naming file and field.
 * @public
 */
export async function loadRuntimeAssets(
  location: string,
  teeOf: (platformId: string) => QemuTee | undefined,
): Promise<LoadedRuntimeAssets> {
  let file = location;
  try {
    if ((await stat(location)).isDirectory()) file = path.join(location, RUNTIME_ASSETS_FILE);
  } catch {
    fail(location, '--assets', 'no such file or directory');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    fail(file, '(file)', code ? `cannot read (${code})` : `not JSON: ${(error as Error).message}`);
  }
  const parsed = descriptionSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    fail(file, issue?.path.join('.') || '(root)', issue?.message ?? 'invalid');
  }
  const d = parsed.data;
  const tee = teeOf(d.platform);
  if (!tee) fail(file, 'platform', `"${d.platform}" is not a platform whose runtime Contrast installs`);
  const base = path.dirname(file);

  const contents = new Map<string, Buffer>();
  const files: RuntimeFile[] = [];
  const seen = new Set<string>();
  for (const [i, f] of d.files.entries()) {
    if (seen.has(f.path)) fail(file, `files.${i}.path`, `"${f.path}" is listed twice`);
    seen.add(f.path);
    let digest = f.sha256 ? Buffer.from(f.sha256, 'hex') : undefined;
    if (f.source !== undefined) {
      let data: Buffer;
      try {
        data = await readFile(path.resolve(base, f.source));
      } catch (error) {
        fail(
          file,
          `files.${i}.source`,
          `${f.source}: cannot read (${(error as NodeJS.ErrnoException).code})`,
        );
      }
      const actual = createHash('sha256').update(data).digest();
      if (digest && !digest.equals(actual)) {
        fail(file, `files.${i}.sha256`, `${f.source} has sha256 ${actual.toString('hex')}, not ${f.sha256}`);
      }
      digest = actual;
      contents.set(f.path, data);
    }
    if (!digest) fail(file, `files.${i}`, 'give its sha256, or a local source to compute it from');
    files.push({
      path: `${RUNTIME_ROOT}/${f.path}`,
      url: f.url,
      integrity: sri(digest),
      executable: f.executable,
    });
  }

  const local = (field: string, p: string | undefined): Buffer | undefined => {
    if (p === undefined) return undefined;
    const data = contents.get(p);
    if (!data) fail(file, `measure.${field}`, `"${p}" is not the path of a file with a local source`);
    return data;
  };
  const m = d.measure;
  const common = {
    release: d.release,
    installerImage: d.installerImage,
    snapshotterImage: d.snapshotterImage,
    files,
    kernelParams: d.kernelParams,
    vmMemoryMiB: d.vmMemoryMiB,
  };

  if (tee === 'snp') {
    const given =
      d.launchMeasurements === undefined ? undefined : snpMeasurements.safeParse(d.launchMeasurements);
    if (given && !given.success) {
      const issue = given.error.issues[0];
      fail(file, `launchMeasurements.${issue?.path.join('.')}`, issue?.message ?? 'invalid');
    }
    let computed: SnpLaunchMeasurements | undefined;
    if (m) {
      if (m.pageAddOrder) fail(file, 'measure.pageAddOrder', 'is a TDX setting');
      const firmware = local('firmware', m.firmware) as Buffer;
      const kernel = local('kernel', m.kernel);
      const initrd = local('initrd', m.initrd);
      if (kernel && m.append === undefined) {
        fail(
          file,
          'measure.append',
          'the full kernel command line QEMU passes is measured with the kernel; give it',
        );
      }
      const digest = (vcpuType: string) => {
        try {
          return Buffer.from(
            snpLaunchDigest({
              firmware,
              firmwareName: m.firmware,
              vcpus: 1,
              vcpuType,
              guestFeatures: BigInt(m.guestFeatures ?? '0x1'),
              ...(kernel ? { kernel, append: m.append } : {}),
              ...(initrd ? { initrd } : {}),
            }),
          ).toString('hex');
        } catch (error) {
          fail(file, 'measure', error instanceof Error ? error.message : String(error));
        }
      };
      computed = { Milan: digest('EPYC-Milan'), Genoa: digest('EPYC-Genoa') };
    }
    const values = given?.data;
    if (values && computed) {
      for (const product of ['Milan', 'Genoa'] as const) {
        if (values[product] !== computed[product]) {
          fail(
            file,
            `launchMeasurements.${product}`,
            `${values[product]} differs from ${computed[product]}, computed from the files of "measure"`,
          );
        }
      }
    }
    const launchMeasurements = computed ?? values;
    if (!launchMeasurements) {
      fail(
        file,
        'launchMeasurements',
        'unknown: give launchMeasurements.Milan and .Genoa (contrast runtime measure --snp --vcpus 1 --vcpu-type EPYC-Milan|EPYC-Genoa ...) or a "measure" block naming the firmware (and kernel) among the files with a local source',
      );
    }
    return { platformId: d.platform, tee, assets: { ...common, launchMeasurements } };
  }

  const given = tdxMeasurements.safeParse(d.launchMeasurements ?? {});
  if (!given.success) {
    const issue = given.error.issues[0];
    fail(file, `launchMeasurements.${issue?.path.join('.')}`, issue?.message ?? 'invalid');
  }
  let mrTd = given.data.mrTd;
  if (m) {
    for (const k of ['kernel', 'initrd', 'append', 'guestFeatures'] as const) {
      if (m[k] !== undefined)
        fail(file, `measure.${k}`, 'is an SEV-SNP input; TDX measures only the firmware (MRTD)');
    }
    const firmware = local('firmware', m.firmware) as Buffer;
    let computed: string;
    try {
      computed = Buffer.from(
        tdxMrtd(firmware, {
          order: (m.pageAddOrder ?? 'single-pass') as TdxPageAddOrder,
          firmwareName: m.firmware,
        }),
      ).toString('hex');
    } catch (error) {
      fail(file, 'measure', error instanceof Error ? error.message : String(error));
    }
    if (mrTd && mrTd !== computed) {
      fail(file, 'launchMeasurements.mrTd', `${mrTd} differs from ${computed}, computed from ${m.firmware}`);
    }
    mrTd = computed;
  }
  if (!mrTd) {
    fail(
      file,
      'launchMeasurements.mrTd',
      'unknown: give it (contrast runtime measure --tdx --firmware <TDVF>) or a "measure" block naming the firmware',
    );
  }
  const rtmrs = given.data.rtmrs;
  if (!rtmrs) {
    fail(
      file,
      'launchMeasurements.rtmrs',
      'RTMR0-3 are not predicted from the files (they hold QEMU ACPI tables, the TD HOB and the kernel as OVMF measures it): take them from the quote of a reference pod VM on your hosts',
    );
  }
  return {
    platformId: d.platform,
    tee,
    assets: {
      ...common,
      launchMeasurements: { mrTd, rtmrs, rtmr0Alternatives: given.data.rtmr0Alternatives },
    },
  };
}
