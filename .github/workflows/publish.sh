#!/usr/bin/env bash
# The publish step of release.yml (changesets/action runs it once the version PR is merged).
# Images first: the CLI built afterwards embeds their digests (apps/cli/release-images.json).
# Locally, the same image steps: node tools/images/release.mjs --registry 127.0.0.1:5000/contrast
set -euo pipefail
registry="ghcr.io/${GITHUB_REPOSITORY_OWNER}"
echo "${GITHUB_TOKEN}" | skopeo login ghcr.io --username "${GITHUB_ACTOR}" --password-stdin
echo "${GITHUB_TOKEN}" | cosign login ghcr.io --username "${GITHUB_ACTOR}" --password-stdin
mkdir -p .images

# The Node binary of the base: the official nodejs.org build of NODE_VERSION, checked against the
# checksums nodejs.org publishes for it.
tarball="node-v${NODE_VERSION}-linux-x64.tar.xz"
curl -fsSL -o ".images/${tarball}" "https://nodejs.org/dist/v${NODE_VERSION}/${tarball}"
curl -fsSL "https://nodejs.org/dist/v${NODE_VERSION}/SHASUMS256.txt" | grep " ${tarball}\$" |
  (cd .images && sha256sum -c -)
tar -xJf ".images/${tarball}" -C .images "node-v${NODE_VERSION}-linux-x64/bin/node"

# The base: Debian at DEBIAN_SNAPSHOT (every package version pinned) + that Node; mmdebstrap needs root.
packages="$(node tools/images/release.mjs --packages)"
sudo -E env "PATH=$PATH" node tools/images/cli.mjs base --out .images/base --snapshot "${DEBIAN_SNAPSHOT}" \
  --node ".images/node-v${NODE_VERSION}-linux-x64/bin/node" --packages "${packages}" >.images/base.ref
sudo chown -R "$(id -u):$(id -g)" .images

# Build every image on it, push by digest, embed the references in the CLI, sign and attest (cosign).
node tools/images/release.mjs --registry "${registry}" --out .images --base "$(cat .images/base.ref)"

pnpm build
pnpm publish -r --access public --provenance
