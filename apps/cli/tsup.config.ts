import { definePackageBuild } from '@contrast-cc/build-config/tsup';

// Self-contained: the `contrast` bin and every other entry carry all they need (workspace packages
// and npm dependencies inlined), so `npx @contrast-cc/cli` installs one package and starts.
export default definePackageBuild({
  entry: { index: 'src/index.ts', bin: 'src/bin.ts' },
  selfContained: { forbid: ['@kubernetes/client-node'] },
});
