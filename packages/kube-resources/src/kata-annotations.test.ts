import { describe, expect, it } from 'vitest';
import { checkKataAnnotations } from './kata-annotations.js';

const H = 'io.katacontainers.config.hypervisor.';

describe('Kata override annotations', () => {
  it('refuses what changes the launch measurement, naming each annotation', () => {
    const f = checkKataAnnotations({
      [`${H}kernel_params`]: 'agent.debug_console',
      [`${H}firmware`]: '/opt/other-ovmf.fd',
      [`${H}default_vcpus`]: '4',
      'io.katacontainers.config.agent.enable_debug_console': 'true',
    });
    expect(f.map((x) => [x.annotation, x.severity])).toEqual([
      [`${H}kernel_params`, 'refuse'],
      [`${H}firmware`, 'refuse'],
      [`${H}default_vcpus`, 'refuse'],
      ['io.katacontainers.config.agent.enable_debug_console', 'refuse'],
    ]);
    expect(f[0]?.reason).toMatch(/measures at launch/);
    expect(f[2]?.reason).toMatch(/vCPU count is part of the launch measurement/);
  });

  it('accepts the value the platform itself sets, refuses another one', () => {
    const platform = { [`${H}default_vcpus`]: '1' };
    expect(checkKataAnnotations({ [`${H}default_vcpus`]: '1' }, platform)).toEqual([]);
    expect(checkKataAnnotations({ [`${H}default_vcpus`]: 1 }, platform)).toEqual([]);
    expect(checkKataAnnotations({ [`${H}default_vcpus`]: '2' }, platform)[0]?.severity).toBe('refuse');
  });

  it('warns on other overrides; the annotations generate writes itself and everything else pass silently', () => {
    const f = checkKataAnnotations({
      [`${H}default_memory`]: '4096',
      'io.katacontainers.config.runtime.sandbox_cgroup_only': 'true',
      [`${H}cc_init_data`]: 'H4sI...',
      'contrast.edgeless.systems/pod-role': 'coordinator',
      'example.com/io.katacontainers.config.hypervisor.kernel': 'x',
    });
    expect(f.map((x) => [x.annotation, x.severity])).toEqual([
      [`${H}default_memory`, 'warn'],
      ['io.katacontainers.config.runtime.sandbox_cgroup_only', 'warn'],
    ]);
  });
});
