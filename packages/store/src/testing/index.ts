export {
  type FakeConfigMap,
  type FakeEndpointSlice,
  type FakeFailure,
  type FakeKubeApiOptions,
  type FakeKubeApiServer,
  type FakeRequestRecord,
  SERVICE_NAME_LABEL,
  startFakeKubeApiServer,
} from './fake-kube-api.js';
export type { FakeObjectMeta, FakePublishedMeta } from './fake-kube-common.js';
export type {
  FakeContainer,
  FakeEndpoint,
  FakeKubelet,
  FakePod,
  FakePortForwardRecord,
  FakeRunningPod,
  FakeService,
} from './fake-kube-pods.js';
