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
