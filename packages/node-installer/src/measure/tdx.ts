// MRTD of a TD booted from a TDVF (OVMF with TDX metadata), computed from the firmware file the
// way the TDX module builds it while the VMM loads the image (TDX module ABI: TDH.MEM.PAGE.ADD
// and TDH.MR.EXTEND each extend a SHA-384 with a 128-byte record; TDVF design guide §11: the
// TDVF metadata sections say what is added and what is measured).
//
// Only MRTD follows from the files alone. RTMR0 holds the TD HOB (memory layout), the ACPI
// tables QEMU generates and UEFI variables; RTMR1/2 hold the kernel and command line as OVMF's
// loader measures them (an EFI event log replay); these depend on QEMU's version and machine
// options and are left to the operator (from a reference TD's event log or quote).

import { createHash } from 'node:crypto';
import { ContrastError } from '@contrast-cc/core';
import { parseFirmware, TDX_METADATA_GUID } from './ovmf.js';

const PAGE = 0x1000;
const EXTEND_CHUNK = 0x100;
const ATTR_MR_EXTEND = 0x1;
const ATTR_PAGE_AUG = 0x2;

/** TDVF section types. @public */
export const TDVF_SECTION_TYPES = [
  'BFV',
  'CFV',
  'TD_HOB',
  'TempMem',
  'PermMem',
  'Payload',
  'PayloadParam',
] as const;

/** One TDVF metadata section. @public */
export interface TdvfSection {
  dataOffset: number;
  rawDataSize: number;
  memoryAddress: bigint;
  memoryDataSize: bigint;
  type: number;
  attributes: number;
}

function bad(what: string, message: string): ContrastError {
  return new ContrastError('invalid-argument', `${what}: ${message}`, { field: 'firmware' });
}

/** The TDVF metadata sections of a firmware image (descriptor "TDVF", version 1). @public */
export function tdvfSections(firmware: Uint8Array, what = 'firmware'): TdvfSection[] {
  const fw = parseFirmware(firmware, what);
  const entry = fw.table.get(TDX_METADATA_GUID);
  if (!entry || entry.length < 4) throw bad(what, 'the firmware has no TDX metadata (not a TDVF build)');
  const view = Buffer.from(firmware.buffer, firmware.byteOffset, firmware.byteLength);
  const start = firmware.length - Buffer.from(entry).readUInt32LE(entry.length - 4);
  if (start < 0 || start + 16 > firmware.length) throw bad(what, 'TDVF descriptor offset out of range');
  if (view.toString('latin1', start, start + 4) !== 'TDVF')
    throw bad(what, 'wrong TDVF descriptor signature');
  if (view.readUInt32LE(start + 8) !== 1) throw bad(what, 'unsupported TDVF descriptor version');
  const count = view.readUInt32LE(start + 12);
  if (start + 16 + count * 32 > firmware.length) throw bad(what, 'TDVF sections out of range');
  const sections: TdvfSection[] = [];
  for (let i = 0; i < count; i++) {
    const o = start + 16 + i * 32;
    const s: TdvfSection = {
      dataOffset: view.readUInt32LE(o),
      rawDataSize: view.readUInt32LE(o + 4),
      memoryAddress: view.readBigUInt64LE(o + 8),
      memoryDataSize: view.readBigUInt64LE(o + 16),
      type: view.readUInt32LE(o + 24),
      attributes: view.readUInt32LE(o + 28),
    };
    if (s.memoryAddress % BigInt(PAGE) !== 0n || s.memoryDataSize % BigInt(PAGE) !== 0n) {
      throw bad(what, `TDVF section ${i} is not page-aligned`);
    }
    if (BigInt(s.rawDataSize) > s.memoryDataSize)
      throw bad(what, `TDVF section ${i} has more data than memory`);
    if (s.attributes & ATTR_MR_EXTEND && s.dataOffset + Number(s.memoryDataSize) > firmware.length) {
      throw bad(what, `TDVF section ${i} reaches past the end of the firmware`);
    }
    sections.push(s);
  }
  return sections;
}

/**
 * In which order the host adds and measures a section's pages: `single-pass` (each page added,
 * then measured: upstream KVM, Linux 6.16 and later) or `two-pass` (all pages of a section
 * added, then all measured: the earlier TDX host kernels).
 * @public
 */
export type TdxPageAddOrder = 'single-pass' | 'two-pass';

/** MRTD (48 bytes) of a TD launched from this TDVF. @public */
export function tdxMrtd(
  firmware: Uint8Array,
  options: { order?: TdxPageAddOrder; firmwareName?: string } = {},
): Uint8Array {
  const sections = tdvfSections(firmware, options.firmwareName);
  const h = createHash('sha384');
  const record = (label: string, gpa: bigint) => {
    const b = Buffer.alloc(128);
    b.write(label, 0, 'latin1');
    b.writeBigUInt64LE(gpa, 16);
    h.update(b);
  };
  const add = (s: TdvfSection, page: number) => {
    if (!(s.attributes & ATTR_PAGE_AUG)) record('MEM.PAGE.ADD', s.memoryAddress + BigInt(page * PAGE));
  };
  const extend = (s: TdvfSection, page: number) => {
    if (!(s.attributes & ATTR_MR_EXTEND)) return;
    for (let off = 0; off < PAGE; off += EXTEND_CHUNK) {
      record('MR.EXTEND', s.memoryAddress + BigInt(page * PAGE + off));
      const from = s.dataOffset + page * PAGE + off;
      h.update(firmware.subarray(from, from + EXTEND_CHUNK));
    }
  };
  for (const s of sections) {
    const pages = Number(s.memoryDataSize / BigInt(PAGE));
    if (options.order === 'two-pass') {
      for (let p = 0; p < pages; p++) add(s, p);
      for (let p = 0; p < pages; p++) extend(s, p);
    } else {
      for (let p = 0; p < pages; p++) {
        add(s, p);
        extend(s, p);
      }
    }
  }
  return h.digest();
}
