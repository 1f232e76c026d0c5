#!/usr/bin/env bash
# Makes a STAND-IN for the pinned Node base image inside the local Docker engine, for machines where no
# registry can be reached: Debian bookworm (debootstrap --variant=minbase, from the Debian mirror apt
# uses), this machine's node and npm in /usr/local, a `node` user and group (uid/gid 1000) and this
# machine's CA bundle at the same path with NODE_EXTRA_CA_CERTS pointing at it (package downloads
# here are trusted only through that bundle). It is tagged with the pinned name in this engine only
# and labelled io.kgraph.standin, so every report can say it is not the real image: the stand-in
# carries the machine's Node version, not the pinned one.
#
#   ci/scripts/standin-base.sh node:22.21.1-bookworm-slim        # no-op when its inputs are unchanged
#
# Inputs (hashed into the io.kgraph.standin.inputs label; the image is rebuilt only when one changes):
# this script, the node binary, npm's version, the CA bundle, the suite and the mirror.
# Environment: DOCKER (client, default docker), KGRAPH_STANDIN_CACHE (debootstrap .deb cache dir),
# KGRAPH_STANDIN_CA_BUNDLE (default $NODE_EXTRA_CA_CERTS or Debian's bundle).
set -euo pipefail

name="${1:?usage: standin-base.sh <image name to tag, e.g. node:22.21.1-bookworm-slim>}"
docker_cli="${DOCKER:-docker}"
suite=bookworm
node_bin="$(command -v node)"
npm_dir="$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)"
ca_bundle="${KGRAPH_STANDIN_CA_BUNDLE:-${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}}"
cache_dir="${KGRAPH_STANDIN_CACHE:-/var/cache/kgraph-standin/debs}"

# The first Debian mirror apt is configured with (deb822 .sources first, then sources.list).
mirror="$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v -- '-security' | head -n1 || true)"
[ -n "$mirror" ] || mirror="$(grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}' | grep -v -- '-security' | head -n1 || true)"
[ -n "$mirror" ] || { echo "standin-base: no Debian mirror found in /etc/apt" >&2; exit 1; }
[ -f "$ca_bundle" ] || { echo "standin-base: CA bundle $ca_bundle not found" >&2; exit 1; }

node_version="$(node --version)"
npm_version="$(node "$npm_dir/bin/npm-cli.js" --version)"
inputs="$({
  sha256sum "$0" | cut -d' ' -f1
  sha256sum "$node_bin" | cut -d' ' -f1
  echo "npm $npm_version"
  sha256sum "$ca_bundle" | cut -d' ' -f1
  echo "$suite $mirror $ca_bundle"
} | sha256sum | cut -c1-16)"

# KGRAPH_STANDIN_PRINT_INPUTS=1: print the inputs hash and stop (what decides a rebuild, testable without an engine).
if [ "${KGRAPH_STANDIN_PRINT_INPUTS:-}" = 1 ]; then
  echo "$inputs"
  exit 0
fi

# One maker at a time per image name on this machine: a second suite (or a build step) running beside this
# one waits here and then finds the stand-in up to date, instead of building and retagging it twice.
lock_file="${TMPDIR:-/tmp}/kgraph-standin-$(printf '%s' "$name" | tr -c 'A-Za-z0-9._-' '_').lock"
exec 9>"$lock_file"
flock 9

current="$("$docker_cli" image inspect --format '{{ index .Config.Labels "io.kgraph.standin.inputs" }}' "$name" 2>/dev/null || true)"
if [ "$current" = "$inputs" ]; then
  echo "standin-base: $name is up to date (stand-in, node $node_version, inputs $inputs)"
  exit 0
fi
if [ -n "$("$docker_cli" image ls -q "$name" 2>/dev/null)" ] && [ -z "$current" ]; then
  echo "standin-base: $name exists and is not a stand-in (pulled?); leaving it alone" >&2
  exit 0
fi

echo "standin-base: building stand-in $name (Debian $suite minbase from $mirror, node $node_version, npm $npm_version)"
work="$(mktemp -d /tmp/kgraph-standin.XXXXXX)"
trap 'rm -rf "$work"' EXIT
root="$work/root"
mkdir -p "$cache_dir"
# --cache-dir keeps the .debs, so a rebuild after e.g. a new node binary downloads nothing.
debootstrap --variant=minbase --cache-dir="$cache_dir" "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2
  echo "standin-base: debootstrap failed" >&2
  exit 1
}

# What the slim image does not carry either: apt lists and caches, docs, man pages.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/*

install -D -m 0755 "$node_bin" "$root/usr/local/bin/node"
mkdir -p "$root/usr/local/lib/node_modules"
cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
install -D -m 0644 "$ca_bundle" "$root$ca_bundle"

# The node user and group of the official image (uid/gid 1000), written directly: minbase has no useradd guarantee.
grep -q '^node:' "$root/etc/group" || echo 'node:x:1000:' >>"$root/etc/group"
grep -q '^node:' "$root/etc/passwd" || echo 'node:x:1000:1000::/home/node:/bin/bash' >>"$root/etc/passwd"
grep -q '^node:' "$root/etc/shadow" 2>/dev/null || echo 'node:!:19000:0:99999:7:::' >>"$root/etc/shadow"
mkdir -p "$root/home/node"
chown 1000:1000 "$root/home/node"

tar -C "$root" -c . | "$docker_cli" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=${node_version#v}" \
  --change "ENV NODE_EXTRA_CA_CERTS=$ca_bundle" \
  --change 'CMD ["node"]' \
  --change "LABEL io.kgraph.standin=\"stand-in for $name: Debian $suite minbase with this machine's node $node_version\"" \
  --change "LABEL io.kgraph.standin.inputs=$inputs" \
  --change "LABEL io.kgraph.standin.node=$node_version" \
  - "$name" >/dev/null
echo "standin-base: tagged $name (stand-in: node $node_version, not the pinned version; inputs $inputs)"
