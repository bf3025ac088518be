import { definePackageTest } from '@contrast-cc/build-config/vitest';

// commonJsRequire: client-node's WebSocket (isomorphic-ws -> ws) must load as outside the tests
// (the fake's port-forward endpoint is tested through it).
export default definePackageTest({ name: 'store', commonJsRequire: true });
