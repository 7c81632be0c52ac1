#!/usr/bin/env bash
# Installs what rtcmon needs, idempotently: npm packages (when missing or out of date) and Debian packages
# (only those not installed yet). Usage: scripts/setup.sh [start|test|bench]...
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages by purpose; `start` is what `npm start` runs, `test` what the test suite starts.
start_pkgs=(prometheus prometheus-node-exporter clickhouse-server clickhouse-client janus janus-demos libjs-janus-gateway iproute2)
# ZooKeeper (and the JRE it pulls in) with the jars that make it log: the cluster tests and `npm start -- --cluster`.
cluster_pkgs=(zookeeper liblog4j1.2-java libslf4j-java)
test_pkgs=("${start_pkgs[@]}" redis-server chromium tcpdump iptables golang-go openssl kubectl systemd "${cluster_pkgs[@]}")
bench_pkgs=("${test_pkgs[@]}" victoria-metrics wrk)

want=()
for group in "${@:-start}"; do
  case "$group" in
    start) want+=("${start_pkgs[@]}") ;;
    test) want+=("${test_pkgs[@]}") ;;
    bench) want+=("${bench_pkgs[@]}") ;;
    cluster) want+=("${start_pkgs[@]}" "${cluster_pkgs[@]}") ;;
    *) echo "setup.sh: unknown group '$group' (start, test, bench or cluster)" >&2; exit 2 ;;
  esac
done

missing=()
for p in $(printf '%s\n' "${want[@]}" | sort -u); do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# npm ci when node_modules is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

# The package test (test/package/) installs the packed tarball with `npm install -g --offline`, as a user
# would but without the network: npm's cache must hold the registry metadata and tarballs of the runtime
# dependencies as a global install resolves them (no lock file). Fetched here, once per package.json.
if [[ " ${*:-start} " == *" test "* ]] && { [ ! -f node_modules/.rtcmon-global-deps ] || [ package.json -nt node_modules/.rtcmon-global-deps ]; }; then
  echo "setup: caching the runtime dependencies for the package test" >&2
  warm="$(mktemp -d)"
  node -e 'const p = require("./package.json"); require("fs").writeFileSync(process.argv[1] + "/package.json",
    JSON.stringify({ name: "rtcmon-deps", version: "0.0.0", private: true, dependencies: p.dependencies }))' "$warm"
  (cd "$warm" && npm install --prefer-offline --ignore-scripts --no-package-lock --no-audit --no-fund --loglevel=error >&2)
  rm -rf "$warm"
  touch node_modules/.rtcmon-global-deps
fi
