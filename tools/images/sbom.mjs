// One SPDX 2.3 document (JSON) per image: the image, its base, the Debian packages of the base
// (its dpkg status), the Node runtime (the base's NODE_VERSION) and every npm package the image's
// /app holds. Deterministic: ordered lists, `created` from SOURCE_DATE_EPOCH (the commit's time in
// a release), the namespace from the image digest.

const ids = new Set();
const spdxId = (kind, name, version) => {
  const base = `SPDXRef-${kind}-${`${name}-${version ?? ''}`.replace(/[^A-Za-z0-9.-]+/g, '-')}`;
  let id = base;
  for (let i = 2; ids.has(id); i++) id = `${base}-${i}`;
  ids.add(id);
  return id;
};

const NOASSERTION = 'NOASSERTION';
// A license expression we pass on as declared; anything else (files, custom text) is NOASSERTION.
const licenseOk = (l) => typeof l === 'string' && /^[A-Za-z0-9.+\-() ]+$/.test(l) && !/^see /i.test(l);

function pkg(id, name, version, purl, license) {
  return {
    name,
    SPDXID: id,
    ...(version ? { versionInfo: version } : {}),
    downloadLocation: NOASSERTION,
    filesAnalyzed: false,
    licenseConcluded: NOASSERTION,
    licenseDeclared: licenseOk(license) ? license : NOASSERTION,
    copyrightText: NOASSERTION,
    ...(purl
      ? {
          externalRefs: [
            { referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: purl },
          ],
        }
      : {}),
  };
}

const npmPurl = (name, version) =>
  `pkg:npm/${name.startsWith('@') ? `%40${name.slice(1)}` : name}@${encodeURIComponent(version)}`;

/**
 * @param {{ image: string; digest: string; version: string; base: { name: string; digest: string };
 *   debian: { name: string; version: string; arch: string }[]; node?: string;
 *   npm: { name: string; version: string; license?: string }[]; created: number }} input
 */
export function spdxDocument(input) {
  ids.clear();
  const imageId = spdxId('image', input.image, input.version);
  const baseId = spdxId('base', input.base.name, '');
  const packages = [
    pkg(
      imageId,
      input.image,
      input.version,
      `pkg:oci/${input.image.split('/').pop()}@${encodeURIComponent(input.digest)}`,
      'Apache-2.0',
    ),
    pkg(
      baseId,
      input.base.name,
      input.base.digest,
      `pkg:oci/${input.base.name.split('/').pop().split(':')[0]}@${encodeURIComponent(input.base.digest)}`,
    ),
  ];
  const relationships = [
    { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: imageId },
    { spdxElementId: imageId, relationshipType: 'DESCENDANT_OF', relatedSpdxElement: baseId },
  ];
  const contains = (parent, p) => {
    packages.push(p);
    relationships.push({ spdxElementId: parent, relationshipType: 'CONTAINS', relatedSpdxElement: p.SPDXID });
  };
  for (const d of [...input.debian].sort((a, b) => a.name.localeCompare(b.name))) {
    contains(
      baseId,
      pkg(
        spdxId('deb', d.name, d.version),
        d.name,
        d.version,
        `pkg:deb/debian/${d.name}@${encodeURIComponent(d.version)}?arch=${d.arch}`,
      ),
    );
  }
  if (input.node)
    contains(
      baseId,
      pkg(spdxId('node', 'node', input.node), 'node', input.node, `pkg:generic/node@${input.node}`, 'MIT'),
    );
  const npm = [...input.npm].sort(
    (a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version),
  );
  for (const n of npm)
    contains(
      imageId,
      pkg(spdxId('npm', n.name, n.version), n.name, n.version, npmPurl(n.name, n.version), n.license),
    );
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: `${input.image}@${input.digest}`,
    documentNamespace: `https://github.com/contrast-cc/contrast-ts/spdx/${input.image}/${input.digest.replace(':', '-')}`,
    creationInfo: {
      created: new Date(input.created * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      creators: ['Tool: contrast-images'],
    },
    packages,
    relationships,
  };
}
