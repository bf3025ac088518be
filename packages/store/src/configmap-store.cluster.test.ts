// Opt-in: runs the conformance suite against a real Kubernetes API server when KUBECONFIG is set.
// It creates ConfigMaps with a random prefix in CONTRAST_STORE_TEST_NAMESPACE (default: the
// context's namespace, else "default") and deletes them by label selector afterwards.
import { randomBytes } from 'node:crypto';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { describe, it } from 'vitest';
import { ConfigMapHistoryStore, STORE_LABEL } from './configmap-store.js';
import { describeHistoryStoreConformance } from './test-support/conformance.js';

const kubeconfig = process.env['KUBECONFIG'];

if (kubeconfig) {
  describeHistoryStoreConformance('Kubernetes ConfigMaps (real cluster from KUBECONFIG)', async () => {
    const kc = new KubeConfig();
    kc.loadFromDefault();
    const namespace =
      process.env['CONTRAST_STORE_TEST_NAMESPACE'] ??
      kc.getContextObject(kc.currentContext)?.namespace ??
      'default';
    const prefix = `contrast-store-test-${randomBytes(4).toString('hex')}`;
    const api = kc.makeApiClient(CoreV1Api);
    const probe = new ConfigMapHistoryStore({ kubeConfig: kc, namespace, prefix });
    return {
      open: async () => new ConfigMapHistoryStore({ kubeConfig: kc, namespace, prefix }),
      corruptBlob: async (kind, hash) => {
        const name = probe.blobName(kind, hash);
        const cm = await api.readNamespacedConfigMap({ name, namespace });
        cm.binaryData = { [hash]: Buffer.from('corrupted bytes').toString('base64') };
        await api.replaceNamespacedConfigMap({ name, namespace, body: cm });
      },
      removeBlob: async (kind, hash) => {
        await api.deleteNamespacedConfigMap({ name: probe.blobName(kind, hash), namespace });
      },
      cleanup: async () => {
        await api.deleteCollectionNamespacedConfigMap({
          namespace,
          labelSelector: `${STORE_LABEL}=${prefix}`,
        });
      },
    };
  });
} else {
  describe('Kubernetes ConfigMaps (real cluster)', () => {
    it.skip('needs KUBECONFIG', () => {});
  });
  console.warn('skipping the real-cluster store suite: KUBECONFIG is not set');
}
