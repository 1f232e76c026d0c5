#!/usr/bin/env bash
# The unit and integration projects on the Node versions the images and workflows use (22 and 24), in the
# very containers the Dagger module builds: `kgraph-ci rehearse dagger <check> --node N` runs the module's
# own calls on the local Docker engine (stand-ins of the pinned images, made here by
# ci/scripts/standin-base.sh when missing; Postgres and Redis as the module binds them, as service
# containers reached under their aliases). .ci/run calls this after `npm test` (Node of this machine).
#
#   ci/scripts/node-versions.sh                 # the runs below, in order; exit 1 if any fails
#   KGRAPH_NODE_RUNS="integration-test:24" ci/scripts/node-versions.sh   # other runs
#
# Which runs: unit on 22 and 24, integration on 22 (the images' Node). All four do not fit .ci/run's
# 30-minute budget on 2 cores with room to spare (figures in docs/dagger.md); integration on 24 runs with
# KGRAPH_NODE_RUNS="integration-test:24". test and integration-test share one install layer per Node version.
# No engine, or a stand-in that cannot be made: a clear message and exit 1 (never a pass, never skipped).
set -uo pipefail
cd "$(dirname "$0")/../.."

runs="${KGRAPH_NODE_RUNS:-test:22 integration-test:22 test:24}"
# .ci/run must end within 30 minutes. It exports KGRAPH_CI_STARTED (epoch seconds); a run is started only while
# less than KGRAPH_NODE_BUDGET_S (default 22 min, a run takes 2-4 min) has gone since. A run left out is named
# as NOT RUN in the summary (never as passed); the runs that did start still decide the exit code.
budget="${KGRAPH_NODE_BUDGET_S:-1320}"
started_ci="${KGRAPH_CI_STARTED:-$(date +%s)}"

if ! docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
  echo "node versions: no container engine answers (ci/scripts/container-engine.sh said why above);" \
    "the unit and integration projects on Node 22 and 24 did NOT run" >&2
  exit 1
fi

failed=()
summary=()
for run in $runs; do
  check="${run%%:*}"
  node="${run##*:}"
  used=$(($(date +%s) - started_ci))
  if [ "$used" -ge "$budget" ]; then
    echo "node versions: $check on Node $node NOT RUN: .ci/run has used ${used} s, over the ${budget} s budget for starting one" >&2
    summary+=("$check on Node $node: NOT RUN (budget: ${used} s used of ${budget} s)")
    continue
  fi
  echo "node versions: dagger call $check on Node $node (rehearsed on the local engine)"
  started=$(date +%s)
  if npx --no-install kgraph-ci rehearse dagger "$check" --node "$node"; then
    result=passed
  else
    result=FAILED
    failed+=("$check on Node $node")
  fi
  summary+=("$check on Node $node: $result in $(($(date +%s) - started)) s")
done

echo "node versions: summary"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "node versions: failed: ${failed[*]}" >&2
  exit 1
fi
