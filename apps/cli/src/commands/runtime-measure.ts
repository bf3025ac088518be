import type { Command } from '../command.js';
import { type CliIo, EXIT, type ExitCode } from '../io.js';
import { parseFlags, readInput, runCommand, usageError } from '../util.js';

/** Help of `contrast runtime measure` (also shown by `contrast runtime --help`). */
export const RUNTIME_MEASURE_HELP = `contrast runtime measure — compute the launch measurement of a pod VM from its files.

What the hardware will report for a VM started from these artifacts, for the reference values
of a runtime (the "launchMeasurements" of an assets description, see "contrast runtime --help").

Usage:
  contrast runtime measure --snp --firmware <OVMF> --vcpus <n> --vcpu-type <model>
                           [--vmm-type QEMU|ec2|gce] [--guest-features <n>]
                           [--kernel <file> [--initrd <file>] [--append <cmdline>]] [--json]
  contrast runtime measure --tdx --firmware <TDVF> [--two-pass] [--json]

SEV-SNP (the inputs sev-snp-measure takes; prints the 48-byte MEASUREMENT in hex):
      --firmware <file>      the OVMF image QEMU loads (an AmdSev build for measured direct boot)
      --vcpus <n>            vCPU count of the VM (one VMSA per vCPU)
      --vcpu-type <model>    QEMU CPU model: EPYC, EPYC-v4, EPYC-Rome, EPYC-Milan, EPYC-Genoa,
                             EPYC-Turin, ... (or --vcpu-sig <n>, the CPUID signature)
      --vmm-type <type>      QEMU (default), ec2 or gce: their initial vCPU state differs
      --guest-features <n>   SEV features of the VMSAs (default 0x1)
      --kernel, --initrd, --append
                             measured direct boot: kernel, initrd and command line hashes
TDX (prints MRTD in hex):
      --firmware <file>      the TDVF image
      --two-pass             host adds all pages of a section before measuring them (TDX host
                             kernels before Linux 6.16); default: page by page (upstream KVM)
                             RTMR0-3 are not predicted: they depend on QEMU's ACPI tables, the TD
                             HOB and OVMF's event log; take them from a reference TD's quote.
      --json                 print { tee, ... } as JSON
  -h, --help                 show this help

Examples:
  contrast runtime measure --snp --firmware OVMF.fd --vcpus 1 --vcpu-type EPYC-Milan \\
    --kernel vmlinuz --append "console=ttyS0"
  contrast runtime measure --tdx --firmware OVMF-tdx.fd --json

Exit codes: 0 printed, 2 bad usage or an input the measurement cannot use (the message names it).
`;

const OPTIONS = {
  snp: { type: 'boolean' },
  tdx: { type: 'boolean' },
  firmware: { type: 'string' },
  vcpus: { type: 'string' },
  'vcpu-type': { type: 'string' },
  'vcpu-sig': { type: 'string' },
  'vmm-type': { type: 'string' },
  'guest-features': { type: 'string' },
  kernel: { type: 'string' },
  initrd: { type: 'string' },
  append: { type: 'string' },
  'two-pass': { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

function integer(flag: string, text: string): number {
  const n = /^0x[0-9a-f]+$/i.test(text)
    ? Number.parseInt(text, 16)
    : /^\d+$/.test(text)
      ? Number(text)
      : Number.NaN;
  if (!Number.isSafeInteger(n)) throw usageError(`${flag} "${text}" is not a number`);
  return n;
}

async function measure(args: string[], io: CliIo): Promise<ExitCode> {
  const { values: v } = parseFlags(args, OPTIONS);
  if (v.snp === v.tdx) throw usageError('give exactly one of --snp or --tdx');
  if (v.firmware === undefined) throw usageError('--firmware is required');
  const m = await import('@contrast-cc/node-installer');
  const firmware = await readInput(io, v.firmware, '--firmware');
  if (v.tdx) {
    for (const f of [
      'vcpus',
      'vcpu-type',
      'vcpu-sig',
      'vmm-type',
      'guest-features',
      'kernel',
      'initrd',
      'append',
    ] as const) {
      if (v[f] !== undefined) throw usageError(`--${f} is an SEV-SNP input; TDX measures only --firmware`);
    }
    const order = v['two-pass'] ? 'two-pass' : 'single-pass';
    const mrTd = Buffer.from(m.tdxMrtd(firmware, { order, firmwareName: v.firmware })).toString('hex');
    io.stdout(
      v.json
        ? `${JSON.stringify({ tee: 'tdx', firmware: v.firmware, pageAddOrder: order, mrTd }, null, 2)}\n`
        : `${mrTd}\n`,
    );
    return EXIT.ok;
  }
  if (v['two-pass']) throw usageError('--two-pass is a TDX option');
  if (v.vcpus === undefined) throw usageError('--vcpus is required with --snp');
  if (v['vcpu-type'] === undefined && v['vcpu-sig'] === undefined && (v['vmm-type'] ?? 'QEMU') === 'QEMU') {
    throw usageError(
      `--vcpu-type is required with --snp (one of ${Object.keys(m.SNP_VCPU_TYPES).join(', ')})`,
    );
  }
  if ((v.initrd !== undefined || v.append !== undefined) && v.kernel === undefined) {
    throw usageError('--initrd and --append are measured only with --kernel');
  }
  const vmmType = v['vmm-type'] ?? 'QEMU';
  if (!(m.SNP_VMM_TYPES as readonly string[]).includes(vmmType)) {
    throw usageError(`--vmm-type "${vmmType}" is not one of ${m.SNP_VMM_TYPES.join(', ')}`);
  }
  const vcpus = integer('--vcpus', v.vcpus);
  const guestFeatures = BigInt(integer('--guest-features', v['guest-features'] ?? '0x1'));
  const digest = m.snpLaunchDigest({
    firmware,
    firmwareName: v.firmware,
    vcpus,
    ...(v['vcpu-type'] !== undefined ? { vcpuType: v['vcpu-type'] } : {}),
    ...(v['vcpu-sig'] !== undefined ? { vcpuSignature: integer('--vcpu-sig', v['vcpu-sig']) } : {}),
    vmmType: vmmType as (typeof m.SNP_VMM_TYPES)[number],
    guestFeatures,
    ...(v.kernel !== undefined ? { kernel: await readInput(io, v.kernel, '--kernel') } : {}),
    ...(v.initrd !== undefined ? { initrd: await readInput(io, v.initrd, '--initrd') } : {}),
    ...(v.append !== undefined ? { append: v.append } : {}),
  });
  const hex = Buffer.from(digest).toString('hex');
  if (v.json) {
    io.stdout(
      `${JSON.stringify(
        {
          tee: 'snp',
          firmware: v.firmware,
          vcpus,
          vcpuType: v['vcpu-type'] ?? null,
          vmmType,
          guestFeatures: `0x${guestFeatures.toString(16)}`,
          kernel: v.kernel ?? null,
          initrd: v.initrd ?? null,
          append: v.append ?? null,
          launchDigest: hex,
        },
        null,
        2,
      )}\n`,
    );
  } else {
    io.stdout(`${hex}\n`);
  }
  return EXIT.ok;
}

/** `contrast runtime measure`: launch measurements from the runtime's artifacts. */
export function createRuntimeMeasureCommand(): Command {
  return {
    name: 'runtime measure',
    summary: 'compute the SEV-SNP launch digest or TDX MRTD of a pod VM from its files',
    help: RUNTIME_MEASURE_HELP,
    run: (args, io) => runCommand('runtime measure', io, () => measure(args, io)),
  };
}
