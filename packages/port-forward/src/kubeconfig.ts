import path from 'node:path';
import { ContrastError } from '@contrast-cc/core';
import { KubeConfig } from '@kubernetes/client-node';

/**
 * The kubeconfig as kubectl finds it: `file` (a --kubeconfig flag), else the files of
 * `$KUBECONFIG` (merged, the first one's current context wins), else ~/.kube/config or the
 * in-cluster service account. `context` overrides the current context. Returns the config and
 * the namespace of its context (default `default`).
 * @public
 */
export function loadKubeConfig(options: {
  file?: string;
  context?: string;
  env: Record<string, string | undefined>;
  cwd: string;
}): { kubeConfig: KubeConfig; namespace: string } {
  const kc = new KubeConfig();
  const files = options.file
    ? [options.file]
    : (options.env.KUBECONFIG ?? '').split(path.delimiter).filter((f) => f !== '');
  const load = (target: KubeConfig, file: string, field: string) => {
    try {
      target.loadFromFile(path.resolve(options.cwd, file));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new ContrastError(
        'invalid-argument',
        `${field} ${file}: ${code === 'ENOENT' ? 'no such file' : `not a usable kubeconfig (${(error as Error).message})`}`,
      );
    }
  };
  const field = options.file ? '--kubeconfig' : 'KUBECONFIG';
  if (files.length === 0) kc.loadFromDefault();
  else {
    load(kc, files[0]!, field);
    for (const file of files.slice(1)) {
      const more = new KubeConfig();
      load(more, file, field);
      kc.mergeConfig(more, true);
    }
  }
  if (options.context !== undefined) {
    if (!kc.getContextObject(options.context)) {
      throw new ContrastError('invalid-argument', `no context "${options.context}" in the kubeconfig`, {
        field: '--context',
      });
    }
    kc.setCurrentContext(options.context);
  }
  if (!kc.getCurrentCluster()) {
    throw new ContrastError('invalid-argument', 'the kubeconfig names no cluster for its current context', {
      field,
    });
  }
  const namespace = kc.getContextObject(kc.getCurrentContext())?.namespace || 'default';
  return { kubeConfig: kc, namespace };
}
