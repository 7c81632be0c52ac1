#!/usr/bin/env bash
# `npm start`: installs what is missing, then runs the whole system on this machine until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
groups=(start)
for a in "$@"; do [ "$a" = --cluster ] && groups+=(cluster); done
bash scripts/setup.sh "${groups[@]}"
exec bin/rtcmon stack "$@"
