import { definePackageTest } from '@contrast-cc/build-config/vitest';

// commonJsRequire: client-node's WebSocket (isomorphic-ws -> ws) must load as outside the tests.
export default definePackageTest({ name: 'port-forward', commonJsRequire: true });
