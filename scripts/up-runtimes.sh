#!/usr/bin/env bash
# Bun and Deno for the runtime tests, from the npm registry into a private directory —
# never project dependencies. Idempotent: a present, working install is kept.
# RUNTIMES_DIR overrides the place (default /tmp/session-manager/runtimes).
set -eu
dir="${RUNTIMES_DIR:-/tmp/session-manager/runtimes}"
bun="$dir/node_modules/@oven/bun-linux-x64/bin/bun"
deno="$dir/node_modules/@deno/linux-x64-glibc/deno"
if [ -x "$bun" ] && [ -x "$deno" ] && "$bun" --version >/dev/null 2>&1 && "$deno" --version >/dev/null 2>&1; then
  echo "bun $("$bun" --version), $("$deno" --version | head -1) in $dir"
  exit 0
fi
mkdir -p "$dir"
npm install --prefix "$dir" --no-save --no-audit --no-fund @oven/bun-linux-x64 @deno/linux-x64-glibc
chmod +x "$bun" "$deno" 2>/dev/null || true
"$bun" --version >/dev/null
"$deno" --version >/dev/null
echo "bun $("$bun" --version), $("$deno" --version | head -1) in $dir"
