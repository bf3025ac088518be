import { definePackageBuild } from '@contrast-cc/build-config/tsup';

export default definePackageBuild({
  entry: {
    index: 'src/index.ts',
    server: 'src/server/index.ts',
    peers: 'src/peers/index.ts',
    testing: 'src/testing/index.ts',
  },
});
