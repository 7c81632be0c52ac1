#!/usr/bin/env bash
# `npm run build`: compiles src/ to dist/ (JavaScript + source maps, tests left out) and copies the static
# files that live beside the sources (anything in src/ that is not .ts). Type checking is `npm run typecheck`.
# --if-stale: do nothing when dist/ is newer than every file and directory under src/ and the build config.
# Concurrent builds are serialised with a lock, and dist/ is replaced in one rename, so a running rtcmon
# never sees half a build.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=dist/.build-stamp
inputs=(src tsconfig.json tsconfig.build.json package.json scripts/build.sh)
stale() { [ ! -f "$stamp" ] || [ -n "$(find "${inputs[@]}" -newer "$stamp" -print -quit)" ]; }

if [ "${1:-}" = --if-stale ] && ! stale; then exit 0; fi
mkdir -p .run
exec 9>.run/build.lock
flock 9
if [ "${1:-}" = --if-stale ] && ! stale; then exit 0; fi # built by whoever held the lock before us

echo "build: compiling src/ to dist/" >&2
tmp=".run/dist.$$"
rm -rf "$tmp"
touch ".run/stamp.$$" # taken before compiling: a source saved during the build makes the next run rebuild
npx tsc -p tsconfig.build.json --noCheck --outDir "$tmp"
(cd src && find . -type f ! -name '*.ts' -print0 | xargs -0 -r cp --parents -t "../$tmp")
mv ".run/stamp.$$" "$tmp/.build-stamp"
rm -rf ".run/dist.old.$$"
if [ -d dist ]; then mv dist ".run/dist.old.$$"; fi
mv "$tmp" dist
rm -rf ".run/dist.old.$$"
