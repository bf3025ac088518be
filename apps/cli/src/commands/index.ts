import type { CommandEntry } from '../command.js';

/** Every command of the contrast CLI; implementations load on use. */
export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'runtime',
    summary: 'print the RuntimeClass and node-installer resources of a platform',
    load: async () => {
      const [{ createRuntimeCommand }, { cliPlatformRegistry }] = await Promise.all([
        import('./runtime.js'),
        import('../platforms.js'),
      ]);
      return createRuntimeCommand({ registry: cliPlatformRegistry() });
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
    load: async () => (await import('./evidence.js')).createEvidenceCommand(),
  },
];
