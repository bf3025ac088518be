import { definePackageBuild } from '@contrast-cc/build-config/tsup';

// Self-contained: the `contrast` bin and every other entry carry all they need (workspace packages
// and npm dependencies inlined), so `npx @contrast-cc/cli` installs one package and starts.
// @kubernetes/client-node only in lazily loaded chunks (port-forward loads it when it runs; the
// bin's start never does); ws's and node-fetch's optional native helpers are left out (they fall
// back to their JavaScript code, as when those optional packages are not installed).
export default definePackageBuild({
  entry: { index: 'src/index.ts', bin: 'src/bin.ts' },
  selfContained: {
    lazy: ['@kubernetes/client-node'],
    absent: ['bufferutil', 'utf-8-validate', 'encoding'],
  },
});
