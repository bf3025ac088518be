// The GUIDed footer table at the end of an OVMF/TDVF firmware volume and the SEV and TDX
// metadata it points at (edk2 OvmfPkg/ResetVector: OvmfSevMetadata.asm, X64/IntelTdxMetadata.asm).
// The table ends 32 bytes before the end of the image; it is read backwards: each entry is
// `data | u16 size (incl. this 18-byte header) | GUID`, the last one being the footer GUID whose
// size covers the whole table.

import { ContrastError } from '@contrast-cc/core';

/** A GUID in its textual form turned into its on-disk (mixed-endian, "bytes_le") 16 bytes. */
export function guidBytes(guid: string): Uint8Array {
  const hex = guid.replaceAll('-', '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new Error(`not a GUID: ${guid}`);
  const b = Buffer.from(hex, 'hex');
  const out = Buffer.alloc(16);
  // time_low (4), time_mid (2), time_hi (2) little-endian, the rest as written.
  out.set(b.subarray(0, 4).reverse(), 0);
  out.set(b.subarray(4, 6).reverse(), 4);
  out.set(b.subarray(6, 8).reverse(), 6);
  out.set(b.subarray(8), 8);
  return out;
}

function guidText(bytes: Uint8Array): string {
  const b = Buffer.from(bytes);
  const part = (s: number, e: number, rev: boolean) => {
    const x = Buffer.from(b.subarray(s, e));
    return (rev ? x.reverse() : x).toString('hex');
  };
  return `${part(0, 4, true)}-${part(4, 6, true)}-${part(6, 8, true)}-${part(8, 10, false)}-${part(10, 16, false)}`;
}

export const FOOTER_TABLE_GUID = '96b582de-1fb2-45f7-baea-a366c55a082d';
export const SEV_HASH_TABLE_RV_GUID = '7255371f-3a3b-4b04-927b-1da6efa8d454';
export const SEV_ES_RESET_BLOCK_GUID = '00f771de-1a7e-4fcb-890e-68c77e2fb44e';
export const SEV_METADATA_GUID = 'dc886566-984a-4798-a75e-5585a7bf67cc';
export const TDX_METADATA_GUID = 'e47a6535-984a-4798-865e-4685a7bf8ec2';

const ENTRY_HEADER = 18;

/** SEV metadata section types (OvmfSevMetadata.asm). */
export const SEV_SECTION = {
  snpSecMem: 1,
  snpSecrets: 2,
  cpuid: 3,
  svsmCaa: 4,
  snpKernelHashes: 0x10,
} as const;

export interface SevMetadataSection {
  gpa: number;
  size: number;
  type: number;
}

/** A parsed firmware image: its bytes, footer table (GUID text -> entry data). */
export interface FirmwareImage {
  data: Uint8Array;
  table: Map<string, Uint8Array>;
}

function bad(what: string, message: string): ContrastError {
  return new ContrastError('invalid-argument', `${what}: ${message}`, { field: 'firmware' });
}

/**
 * Reads the footer table. An image without one (no footer GUID) has an empty table; a table
 * whose entries do not add up is refused.
 */
export function parseFirmware(data: Uint8Array, what = 'firmware'): FirmwareImage {
  const table = new Map<string, Uint8Array>();
  const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const footerStart = data.length - 32 - ENTRY_HEADER;
  if (footerStart < 0) return { data, table };
  const footerGuid = view.subarray(footerStart + 2, footerStart + ENTRY_HEADER);
  if (!Buffer.from(guidBytes(FOOTER_TABLE_GUID)).equals(footerGuid)) return { data, table };
  const tableSize = view.readUInt16LE(footerStart) - ENTRY_HEADER;
  if (tableSize < 0 || tableSize > footerStart) throw bad(what, 'OVMF footer table size out of range');
  let end = footerStart;
  const start = footerStart - tableSize;
  while (end - start >= ENTRY_HEADER) {
    const header = end - ENTRY_HEADER;
    const size = view.readUInt16LE(header);
    if (size < ENTRY_HEADER || end - size < start) throw bad(what, 'invalid OVMF footer table entry size');
    const guid = guidText(view.subarray(header + 2, end));
    table.set(guid, new Uint8Array(view.subarray(end - size, header)));
    end -= size;
  }
  return { data, table };
}

function u32At(entry: Uint8Array | undefined, what: string, name: string): number {
  if (!entry || entry.length < 4)
    throw bad(what, `the firmware has no ${name} entry in its OVMF footer table`);
  return Buffer.from(entry).readUInt32LE(0);
}

/** EIP of the APs (SEV-ES reset block). */
export function sevEsResetEip(fw: FirmwareImage, what = 'firmware'): number {
  return u32At(fw.table.get(SEV_ES_RESET_BLOCK_GUID), what, 'SEV-ES reset block');
}

/** GPA of the SEV kernel/initrd/cmdline hashes table. */
export function sevHashesTableGpa(fw: FirmwareImage, what = 'firmware'): number {
  return u32At(fw.table.get(SEV_HASH_TABLE_RV_GUID), what, 'SEV hashes table');
}

/** The SEV metadata sections ("ASEV", version 1); none when the firmware has no SEV metadata. */
export function sevMetadataSections(fw: FirmwareImage, what = 'firmware'): SevMetadataSection[] {
  const entry = fw.table.get(SEV_METADATA_GUID);
  if (!entry) return [];
  const view = Buffer.from(fw.data.buffer, fw.data.byteOffset, fw.data.byteLength);
  const start = fw.data.length - u32At(entry, what, 'SEV metadata');
  if (start < 0 || start + 16 > fw.data.length) throw bad(what, 'SEV metadata offset out of range');
  if (view.toString('latin1', start, start + 4) !== 'ASEV') throw bad(what, 'wrong SEV metadata signature');
  const size = view.readUInt32LE(start + 4);
  if (view.readUInt32LE(start + 8) !== 1) throw bad(what, 'unsupported SEV metadata version');
  const count = view.readUInt32LE(start + 12);
  if (16 + count * 12 > size || start + size > fw.data.length) throw bad(what, 'SEV metadata out of range');
  const out: SevMetadataSection[] = [];
  for (let i = 0; i < count; i++) {
    const o = start + 16 + i * 12;
    out.push({ gpa: view.readUInt32LE(o), size: view.readUInt32LE(o + 4), type: view.readUInt32LE(o + 8) });
  }
  return out;
}
