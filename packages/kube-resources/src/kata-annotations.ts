// Kata configuration overrides through `io.katacontainers.*` pod annotations: upstream calls them
// unsupported ("may lead to unexpected behaviour") and says nothing at generate time. We refuse
// those that change what attestation measures or what the policy assumes, and warn on the rest.

/** What `generate` does with one Kata override annotation of a pod. @public */
export interface KataAnnotationFinding {
  annotation: string;
  severity: 'refuse' | 'warn';
  reason: string;
}

const PREFIX = 'io.katacontainers.';
const HYPERVISOR = 'io.katacontainers.config.hypervisor.';

// The guest's boot chain: the launch measurement (SNP MEASUREMENT, TDX MRTD/RTMRs) covers it.
const MEASURED = new Set([
  'kernel',
  'kernel_hash',
  'kernel_params',
  'kernel_verity_params',
  'image',
  'image_hash',
  'initrd',
  'initrd_hash',
  'firmware',
  'firmware_hash',
  'firmware_volume',
  'firmware_volume_hash',
  'igvm',
  'machine_type',
  'path',
  'confidential_guest',
  'sev_snp_guest',
  'snp_guest_policy',
  'snp_id_block',
  'snp_id_auth',
  'rootfs_type',
]);

/** Written by `generate` itself: a user value would be replaced or contradict the policy. */
const GENERATED = new Map([
  [
    'io.katacontainers.config.hypervisor.cc_init_data',
    'generate writes the initdata (the policy the TEE binds)',
  ],
  ['io.katacontainers.config.agent.policy', 'generate writes the policy'],
]);

/** Agent settings that open the guest to the host (debug console, tracing). */
const AGENT_OPENING =
  /^io\.katacontainers\.config\.agent\.(enable_debug_console|debug_console_vport|enable_tracing|log_level)$/;

/**
 * The findings for a pod's annotations. `platformAnnotations` are those the platform itself
 * writes (e.g. the vCPU count its reference values were measured with): the same value there is
 * fine, another is refused, since the vCPU count is part of the launch measurement. `generated`
 * are the Kata annotations generate writes for this pod (e.g. `default_memory` when memory limits
 * became requests): the same value is silent, another is warned as replaced.
 * @public
 */
export function checkKataAnnotations(
  annotations: Readonly<Record<string, unknown>>,
  platformAnnotations: Readonly<Record<string, string>> = {},
  generated: Readonly<Record<string, string>> = {},
): KataAnnotationFinding[] {
  const out: KataAnnotationFinding[] = [];
  for (const [annotation, value] of Object.entries(annotations)) {
    if (!annotation.startsWith(PREFIX)) continue;
    // generate writes these itself (a re-run finds its own): replaced, never a finding.
    if (GENERATED.has(annotation)) continue;
    // Written by generate for this pod (the VM memory with requests only): its own value is
    // silent, another one is replaced.
    const ours = generated[annotation];
    if (ours !== undefined) {
      if (String(value) !== ours) {
        out.push({
          annotation,
          severity: 'warn',
          reason: `replaced by ${ours}, the size generate computed from the pod's memory requests`,
        });
      }
      continue;
    }
    const platformValue = platformAnnotations[annotation];
    if (platformValue !== undefined) {
      if (String(value) !== platformValue) {
        out.push({
          annotation,
          severity: 'refuse',
          reason: `the platform sets ${platformValue}, the value its reference values were measured with; another value changes the launch measurement`,
        });
      }
      continue;
    }
    if (annotation.startsWith(HYPERVISOR)) {
      const key = annotation.slice(HYPERVISOR.length);
      if (MEASURED.has(key)) {
        out.push({
          annotation,
          severity: 'refuse',
          reason:
            'it changes what the TEE measures at launch (firmware, kernel, kernel parameters, image or VM type), so the pod could not attest against the reference values',
        });
        continue;
      }
      if (key === 'default_vcpus' || key === 'default_maxvcpus') {
        out.push({
          annotation,
          severity: 'refuse',
          reason:
            "the vCPU count is part of the launch measurement (one VMSA per vCPU on SEV-SNP, RTMR0 on TDX), and the reference values are for the platform's count; set the containers' CPU limits instead (generate sizes the VM from them and checks the count)",
        });
        continue;
      }
    }
    if (AGENT_OPENING.test(annotation)) {
      out.push({
        annotation,
        severity: 'refuse',
        reason:
          'it opens the guest to the host (debug console, tracing, verbose agent logs), which the policy does not allow',
      });
      continue;
    }
    out.push({
      annotation,
      severity: 'warn',
      reason:
        'a Kata configuration override: unsupported by Contrast and may lead to unexpected behaviour (check it against your runtime)',
    });
  }
  return out;
}
