#!/usr/bin/env bash
# `npm test`: installs what is missing, then lint + format check, type check, and every test
# (unit tests beside the code in src/, integration tests against real servers in test/integration/).
# Extra arguments are test files to run instead of all of them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
npx biome ci --colors=off .
npx tsc --noEmit -p .
if [ $# -gt 0 ]; then files=("$@"); else mapfile -t files < <(find src test bench -name '*.test.ts' | sort); fi
exec node --import tsx --test --test-reporter=spec --test-timeout=600000 "${files[@]}"
