#!/usr/bin/env bash
# Makes sure a Docker engine answers on this machine: installs Debian's docker.io (and debootstrap, for
# the stand-in base image) when missing, then starts dockerd WITHOUT a bridge network or iptables rules
# (--bridge=none --iptables=false): every build and container here uses the host network.
# Never fatal: when no engine can be had it says why, and the container tests skip with that reason.
#   ci/scripts/container-engine.sh          # as root; prints the engine version or the reason
set -uo pipefail

docker_cli=/usr/bin/docker
answers() { [ -x "$docker_cli" ] && timeout 10 "$docker_cli" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if answers; then
  echo "container engine: docker $("$docker_cli" version --format '{{.Server.Version}}') answers"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "container engine: none answers and starting one needs root; container tests will be skipped" >&2
  exit 0
fi
missing=()
command -v dockerd >/dev/null 2>&1 && [ -x "$docker_cli" ] || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  echo "container engine: installing ${missing[*]} from Debian"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >/tmp/kgraph-engine-apt.log 2>&1 || {
    tail -n 20 /tmp/kgraph-engine-apt.log >&2
    echo "container engine: could not install ${missing[*]}; container tests will be skipped" >&2
    exit 0
  }
fi
echo "container engine: starting dockerd --bridge=none --iptables=false"
mkdir -p /var/log
setsid dockerd --bridge=none --iptables=false --ip6tables=false >/var/log/kgraph-dockerd.log 2>&1 < /dev/null &
for _ in $(seq 1 60); do
  if answers; then
    echo "container engine: docker $("$docker_cli" version --format '{{.Server.Version}}') answers"
    exit 0
  fi
  sleep 0.5
done
tail -n 20 /var/log/kgraph-dockerd.log >&2
echo "container engine: dockerd did not answer within 30 s; container tests will be skipped" >&2
exit 0
