#!/usr/bin/env bash
# `npm test`: install what is missing, start the services, type-check, run every test.
set -eu
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm install --no-audit --no-fund
bash scripts/services.sh
npx tsc -p tsconfig.json --noEmit
npx tsc -p tsconfig.build.json
npx tap "$@"
