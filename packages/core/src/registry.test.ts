import { describe, expect, it } from 'vitest';
import { type ContrastError, isContrastError } from './errors.js';
import { definePlatform, isPlatform, type Platform, runtimeClassName } from './platform.js';
import { createPlatformRegistry } from './registry.js';
import { createFakePlatform } from './testing/index.js';

function thrown(fn: () => unknown): ContrastError {
  try {
    fn();
  } catch (error) {
    if (isContrastError(error)) return error;
    throw error;
  }
  throw new Error('expected a ContrastError');
}

describe('definePlatform', () => {
  it('brands and freezes a valid spec', () => {
    const p = createFakePlatform();
    expect(isPlatform(p)).toBe(true);
    expect(p.apiVersion).toBe(1);
    expect(Object.isFrozen(p)).toBe(true);
    expect(p.aliases).toEqual(['fake']);
  });

  it.each([
    ['Metal QEMU', 'id'],
    ['-leading-dash', 'id'],
    ['double--dash', 'id'],
    ['', 'id'],
  ])('rejects the id %j naming the field', (id, field) => {
    const err = thrown(() => createFakePlatform({ id }));
    expect(err.code).toBe('invalid-platform');
    expect(err.field).toBe(field);
  });

  it('rejects upper-case or repeated aliases', () => {
    expect(thrown(() => createFakePlatform({ aliases: ['Fake'] })).field).toBe('aliases[0]');
    expect(thrown(() => createFakePlatform({ aliases: ['a', 'a'] })).field).toBe('aliases[1]');
    expect(thrown(() => createFakePlatform({ aliases: ['fake-platform'] })).message).toContain(
      'repeats the id',
    );
  });

  it('rejects a RuntimeClass name Kubernetes would refuse', () => {
    const base = createFakePlatform();
    const err = thrown(() =>
      definePlatform({ ...base, runtime: { ...base.runtime, runtimeClassNames: ['Contrast_CC'] } }),
    );
    expect(err.field).toBe('runtime.runtimeClassNames[0]');
  });

  it('rejects a VM sizing Kata could not have (no base vCPU, fractional memory, empty vCPU counts)', () => {
    const base = createFakePlatform();
    const sized = (vmSizing: object) =>
      definePlatform({ ...base, runtime: { ...base.runtime, vmSizing: vmSizing as never } });
    expect(
      sized({ baseVcpus: 1, baseMemoryMiB: 512, measuredVcpuCounts: [1] }).runtime.vmSizing,
    ).toBeDefined();
    expect(thrown(() => sized({ baseVcpus: 0 })).field).toBe('runtime.vmSizing.baseVcpus');
    expect(thrown(() => sized({ baseVcpus: 1, baseMemoryMiB: 1.5 })).field).toBe(
      'runtime.vmSizing.baseMemoryMiB',
    );
    expect(thrown(() => sized({ baseVcpus: 1, measuredVcpuCounts: [] })).field).toBe(
      'runtime.vmSizing.measuredVcpuCounts',
    );
  });

  it('rejects an unknown policy binding and a missing verifier factory', () => {
    const base = createFakePlatform();
    expect(
      thrown(() =>
        definePlatform({
          ...base,
          attestation: { ...base.attestation, policyBinding: 'magic' as 'initdata' },
        }),
      ).field,
    ).toBe('attestation.policyBinding');
    expect(
      thrown(() =>
        definePlatform({
          ...base,
          attestation: {
            ...base.attestation,
            createVerifier: undefined as unknown as Platform['attestation']['createVerifier'],
          },
        }),
      ).field,
    ).toBe('attestation.createVerifier');
  });

  it('names RuntimeClasses as upstream does', () => {
    expect(runtimeClassName('Metal-QEMU-SNP', '0123456789abcdef')).toBe(
      'contrast-cc-metal-qemu-snp-01234567',
    );
    expect(() => runtimeClassName('Metal-QEMU-SNP', 'xyz')).toThrow(/runtime hash/);
  });
});

describe('createPlatformRegistry', () => {
  const a = createFakePlatform({ id: 'Alpha-SNP', aliases: ['alpha'] });
  const b = createFakePlatform({ id: 'Beta-TDX', aliases: ['beta', 'b'] });

  it('finds platforms by id and alias, case-insensitively', () => {
    const reg = createPlatformRegistry([a, b]);
    expect(reg.get('alpha-snp')).toBe(a);
    expect(reg.get('ALPHA')).toBe(a);
    expect(reg.get('b')).toBe(b);
    expect(reg.ids()).toEqual(['Alpha-SNP', 'Beta-TDX']);
    expect(reg.find('gamma')).toBeUndefined();
    expect(reg.findByRuntimeClassName(b.runtime.runtimeClassNames[0]!)).toBe(b);
  });

  it('lists the known ids when a lookup misses', () => {
    const err = thrown(() => createPlatformRegistry([a, b]).get('Gamma'));
    expect(err.code).toBe('platform-not-found');
    expect(err.message).toBe('unknown platform "Gamma"; known platforms: Alpha-SNP, Beta-TDX');
  });

  it('rejects duplicate ids and aliases', () => {
    expect(thrown(() => createPlatformRegistry([a, a])).code).toBe('duplicate-platform');
    const clash = createFakePlatform({ id: 'Gamma', aliases: ['alpha'] });
    const err = thrown(() => createPlatformRegistry([a, clash]));
    expect(err.code).toBe('duplicate-platform');
    expect(err.message).toContain('"alpha" of platform "Gamma" is already taken by platform "Alpha-SNP"');
  });

  it('rejects an unknown contract version with an actionable message', () => {
    const future = { ...a, apiVersion: 2 } as Platform;
    const err = thrown(() => createPlatformRegistry([future]));
    expect(err.code).toBe('unsupported-api-version');
    expect(err.message).toContain('install matching versions');
  });

  it('rejects values that are not platforms, and descriptors broken after definePlatform', () => {
    expect(thrown(() => createPlatformRegistry([{ id: 'x' } as unknown as Platform])).code).toBe(
      'invalid-platform',
    );
    expect(thrown(() => createPlatformRegistry([{ ...a, id: 'bad id' } as Platform])).field).toBe(
      'platforms[0].id',
    );
  });

  it('registers nothing implicitly', () => {
    createFakePlatform({ id: 'Side-Effect' });
    expect(createPlatformRegistry([]).ids()).toEqual([]);
  });
});
