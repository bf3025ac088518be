// Guest pull's users and groups on inputs modelled on upstream's e2e regression workloads (a
// mysql-style Deployment whose image runs as a named user, a busybox-style CronJob whose root is
// a member of further groups): written into the YAML from the digest-pinned image, or, when that
// is turned off, refused as bad input for every workload in one run.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { generatePolicy, type ImageFacts, type ImageSource, loadRecordedImages } from '@contrast-cc/policy';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { ResourceInputError } from './errors.js';
import { parseResourceText } from './files.js';
import { patchResources } from './pipeline.js';
import { examplesDir, INJECTED_IMAGES, testPlatform } from './test-support/index.js';

const snp = testPlatform('snp');

const OWN: Record<string, Omit<ImageFacts, 'reference' | 'digest'>> = {
  'registry.example/mysql:9': {
    config: { Entrypoint: ['docker-entrypoint.sh'], Cmd: ['mysqld'], User: 'mysql' },
    passwd: 'root:x:0:0:root:/root:/bin/bash\nmysql:x:999:999::/var/lib/mysql:/bin/bash\n',
    group: 'root:x:0:\nmysql:x:999:\n',
  },
  'registry.example/busybox:1.36': {
    config: { Cmd: ['sh'] },
    passwd: 'root:x:0:0:root:/root:/bin/sh\n',
    group: 'root:x:0:\ndaemon:x:1:root\nwheel:x:10:root\n',
  },
};

async function images(): Promise<ImageSource> {
  const shop = await loadRecordedImages(path.join(examplesDir, 'shop', 'image-facts.json'));
  return {
    resolve: async (ref) => {
      const base = ref.split('@')[0]!;
      const own = OWN[base];
      if (!own) return shop.resolve(ref);
      const digest = `sha256:${createHash('sha256').update(base).digest('hex')}`;
      return { ...own, reference: `${base}@${digest}`, digest };
    },
  };
}

const MYSQL = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: mysql-backend
  namespace: db
spec:
  selector: {matchLabels: {app: mysql}}
  template:
    metadata:
      labels: {app: mysql}
    spec:
      runtimeClassName: contrast-cc
      containers:
      - name: mysql-backend
        image: registry.example/mysql:9
        env: [{name: MYSQL_ALLOW_EMPTY_PASSWORD, value: "1"}]
`;
const CRON = `apiVersion: batch/v1
kind: CronJob
metadata:
  name: hello
spec:
  schedule: "* * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          runtimeClassName: contrast-cc
          restartPolicy: OnFailure
          containers:
          - name: hello
            image: registry.example/busybox:1.36
            command: [/bin/sh, -c, date; echo Hello]
`;

function run(text: string, fixFromImages?: boolean) {
  return images().then((src) =>
    patchResources([parseResourceText('in.yml', text, '/tmp/in.yml')], {
      defaultPlatform: snp,
      images: src,
      generatePolicy,
      injectedImages: INJECTED_IMAGES,
      skipInitializer: true,
      skipServiceMesh: true,
      ...(fixFromImages === undefined ? {} : { fixFromImages }),
    }),
  );
}

describe('guest pull: users and groups of the images', () => {
  it('writes them into the YAML from the pinned image and says so; a re-run changes nothing', async () => {
    const first = await run(`${MYSQL}---\n${CRON}`);
    expect(first.workloads.map((w) => w.name)).toEqual(['mysql-backend', 'hello']);
    const text = first.files[0]!.text;
    const docs = text.split(/^---$/m).map((d) => parseDocument(d).toJS());
    const mysql = docs[0].spec.template.spec;
    expect(mysql.containers[0].securityContext).toEqual({ runAsUser: 999, runAsGroup: 999 });
    expect(mysql.securityContext).toBeUndefined();
    const cron = docs[1].spec.jobTemplate.spec.template.spec;
    expect(cron.securityContext).toEqual({ supplementalGroups: [1, 10] });
    expect(cron.containers[0].securityContext).toBeUndefined();
    expect(first.warnings.map((w) => `${w.field}: ${w.message}`)).toEqual([
      expect.stringMatching(
        /^documents\[0\]\.spec\.template\.spec\.containers\[0\]\.securityContext\.runAsUser: Deployment db\/mysql-backend: set to 999 from the image's \/etc\/passwd \(the image is pinned by digest/,
      ),
      expect.stringMatching(/containers\[0\]\.securityContext\.runAsGroup: .*set to 999/),
      expect.stringMatching(
        /^documents\[1\]\.spec\.jobTemplate\.spec\.template\.spec\.securityContext\.supplementalGroups: CronJob default\/hello: set to \[1,10\] from the images' \/etc\/group/,
      ),
    ]);
    // The images are pinned by digest in the output, so the values stay those of that image.
    expect(text).toMatch(/image: registry\.example\/mysql:9@sha256:[0-9a-f]{64}/);

    const second = await run(text);
    expect(second.files[0]!.text).toBe(text);
    expect(second.warnings.filter((w) => w.message.includes('set to'))).toEqual([]);
    expect(second.workloads.map((w) => w.policyHash)).toEqual(first.workloads.map((w) => w.policyHash));
  });

  it('appends to a supplementalGroups list the pod has, in its own style', async () => {
    const withGroups = CRON.replace(
      '          restartPolicy: OnFailure\n',
      '          restartPolicy: OnFailure\n          securityContext:\n            supplementalGroups:\n              - 1\n',
    );
    const out = (await run(withGroups)).files[0]!.text;
    expect(out).toContain('supplementalGroups:\n              - 1\n              - 10\n');
    expect((await run(out)).files[0]!.text).toBe(out);
  });

  it('with fixFromImages false: every workload refused in one run, field by field, as bad input', async () => {
    const err = (await run(`${MYSQL}---\n${CRON}`, false).catch((e: unknown) => e)) as ResourceInputError;
    expect(err).toBeInstanceOf(ResourceInputError);
    expect(err.code).toBe('validation-failed');
    expect(err.problems.map((p) => p.field)).toEqual([
      'documents[0].spec.template.spec.containers[0].securityContext.runAsUser',
      'documents[0].spec.template.spec.containers[0].securityContext.runAsGroup',
      'documents[1].spec.jobTemplate.spec.template.spec.securityContext.supplementalGroups',
    ]);
    const text = err.describe();
    expect(text).not.toContain('ERROR');
    expect(text).not.toContain('policy generation failed');
    expect(text).toContain('set runAsUser: 999 (container level');
    expect(text).toContain('set 1, 10 (pod level: supplementalGroups: [1, 10])');
  });

  it('other bad input of the policy (a missing ConfigMap) is collected for every workload, not a failure', async () => {
    const missing = (name: string) =>
      `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\nspec:\n  runtimeClassName: contrast-cc\n  securityContext: {runAsUser: 0}\n  containers:\n  - name: c\n    image: registry.example/mysql:9\n    securityContext: {runAsUser: 999, runAsGroup: 999}\n    envFrom: [{configMapRef: {name: absent}}]\n`;
    const err = (await run(`${missing('a')}---\n${missing('b')}`).catch(
      (e: unknown) => e,
    )) as ResourceInputError;
    expect(err.code).toBe('validation-failed');
    expect(err.problems).toEqual([
      expect.objectContaining({
        field: expect.stringMatching(/^documents\[0\]\.spec\.containers\[0\]/),
        message: expect.stringContaining('Pod default/a: ConfigMap "absent"'),
      }),
      expect.objectContaining({
        field: expect.stringMatching(/^documents\[1\]\.spec\.containers\[0\]/),
        message: expect.stringContaining('Pod default/b: ConfigMap "absent"'),
      }),
    ]);
  });
});
