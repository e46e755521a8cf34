#!/usr/bin/env bash
# `npm run check:install`: the README's install path, run for real. From this
# checkout (built first if a source changed), `npm install -g --ignore-scripts .`
# into a temporary prefix must put `weft` and `weft-relay` on that prefix's
# PATH, and both must run from there, from another directory: each prints
# package.json's version, `weft get` reports that no daemon runs (exit 3), and
# `weft-relay check-config` loads the relay with its dependencies.
# Nothing outside the temporary prefix changes (it links to this checkout).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

npm run build --silent
prefix=$(mktemp -d "${TMPDIR:-/tmp}/weft-install-XXXXXX")
trap 'rm -rf "$prefix"' EXIT
want=$(node -p 'require("./package.json").version')

npm_config_prefix="$prefix" npm install -g --ignore-scripts --no-audit --no-fund . >/dev/null
fail () { echo "check:install: $*" >&2; exit 1; }

cd /
export PATH="$prefix/bin:$PATH"
for bin in weft weft-relay; do
  found=$(command -v "$bin") || fail "$bin is not on the PATH after npm install -g"
  [ "$found" = "$prefix/bin/$bin" ] || fail "$bin resolves to $found, not to $prefix/bin/$bin"
  got=$("$bin" --version) || fail "$bin --version failed"
  [ "$got" = "$want" ] || fail "$bin --version printed '$got', expected '$want'"
done

code=0
msg=$(weft get notes n1 --data-dir "$prefix/data" 2>&1) || code=$?
[ "$code" = 3 ] || fail "weft get without a daemon exited $code, expected 3: $msg"
weft-relay check-config --data-dir "$prefix/relay" >/dev/null || fail "weft-relay check-config failed"

echo "check:install: weft and weft-relay $want run from $prefix/bin (linked to $root)"
