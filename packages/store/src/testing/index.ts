export {
  type FakeConfigMap,
  type FakeFailure,
  type FakeKubeApiOptions,
  type FakeKubeApiServer,
  type FakeRequestRecord,
  startFakeKubeApiServer,
} from './fake-kube-api.js';
