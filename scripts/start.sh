#!/usr/bin/env bash
# `npm start`: installs what is missing, then runs the whole system on this machine until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh start
exec bin/rtcmon stack "$@"
