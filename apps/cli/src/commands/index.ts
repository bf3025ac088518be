import type { CollateralConfig } from '@contrast-cc/attestation';
import type { CommandEntry } from '../command.js';

const registry = async () => (await import('../platforms.js')).cliPlatformRegistry();
/** For --kds-url / --pcs-url: the same platforms on those collateral sources. */
const registryFor = async () => {
  const { cliPlatformRegistry } = await import('../platforms.js');
  return (collateral: CollateralConfig) => cliPlatformRegistry({ collateral });
};

/** Every command of the contrast CLI; implementations load on use. */
export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'generate',
    summary: 'patch Kubernetes resources for Contrast and write their policies into the manifest',
    load: async () => {
      const [{ createGenerateCommand }, { cliImageSource }, { registryWithRuntimeAssets }] =
        await Promise.all([import('./generate.js'), import('../images.js'), import('../platforms.js')]);
      return createGenerateCommand({
        registry: await registry(),
        images: cliImageSource,
        withAssets: registryWithRuntimeAssets,
      });
    },
  },
  {
    name: 'set',
    summary: 'attest the Coordinator and set the manifest',
    load: async () =>
      (await import('./set.js')).createSetCommand({
        registry: await registry(),
        registryFor: await registryFor(),
      }),
  },
  {
    name: 'verify',
    summary: 'attest the Coordinator, fetch its history, check it runs your manifest',
    load: async () =>
      (await import('./verify.js')).createVerifyCommand({
        registry: await registry(),
        registryFor: await registryFor(),
      }),
  },
  {
    name: 'recover',
    summary: 'give a restarted Coordinator its seed back (seed-share owner)',
    load: async () =>
      (await import('./recover.js')).createRecoverCommand({
        registry: await registry(),
        registryFor: await registryFor(),
      }),
  },
  {
    name: 'runtime',
    summary: 'print the RuntimeClass and node-installer resources of a platform',
    load: async () => {
      const [{ createRuntimeCommand }, { cliPlatformRegistry, registryWithRuntimeAssets }] =
        await Promise.all([import('./runtime.js'), import('../platforms.js')]);
      return createRuntimeCommand({ registry: cliPlatformRegistry(), withAssets: registryWithRuntimeAssets });
    },
  },
  {
    name: 'sign',
    summary: 'sign a manifest update as a workload owner, offline (or --prepare the hash)',
    load: async () => (await import('./sign.js')).createSignCommand(),
  },
  {
    name: 'evidence',
    summary: 'verify an SEV-SNP report or a TDX quote offline (evidence verify)',
    load: async () => (await import('./evidence.js')).createEvidenceCommand({ registry: await registry() }),
  },
  {
    name: 'policy',
    summary: 'explain why a pod policy refused a request; show a policy; check it against the manifest',
    load: async () => (await import('./policy.js')).createPolicyCommand({ registry: await registry() }),
  },
  {
    name: 'port-forward',
    summary: 'forward a local port to a confidential pod or Service (via a plain forwarder pod)',
    load: async () => (await import('./port-forward.js')).createPortForwardCommand(),
  },
  {
    name: 'demo',
    summary: 'run a whole deployment on this machine (simulator, no cluster) and explain it',
    load: async () => (await import('./demo.js')).createDemoCommand(),
  },
];
