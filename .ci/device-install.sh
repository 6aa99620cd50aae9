#!/usr/bin/env bash
# CI: the README's "Install on a device" works from a fresh clone. Clones this checkout into a
# temporary directory, runs the README's `npm` and `./bin/ser-agent.js` lines exactly as
# written there (without sudo: CI already runs as the user who owns the clone), and classifies
# a recording with the result, which must match, to the digit, what this checkout's full
# development install says.
# Any step that fails, a dev package left behind, or a different answer fails the script.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
speech="$repo/../shared/datasets/ravdess/Actor_17/03-01-05-01-01-01-17.flac"
test -f "$speech" || { echo "device-install: needs $speech (../shared beside the repository)" >&2; exit 1; }
test -f "$repo/dist/src/cli.js" || { echo "device-install: build this checkout first (npm ci): its answer is the reference" >&2; exit 1; }
expected="$(node "$repo/bin/ser-agent.js" classify --json --log-level warn "$speech")"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git clone --quiet "$repo" "$work/ser-agent"
cd "$work/ser-agent"

# The README install block's npm and ./bin/ser-agent.js lines, sudo and comments stripped: the
# commands users copy (the others install system packages and users, which CI does itself).
steps_text="$(.ci/readme-device-steps.sh README.md)"
mapfile -t steps <<<"$steps_text"
for step in "${steps[@]}"; do
  echo "--- device install: $step"
  $step
done

echo "--- device install: no build or test tooling left"
for dev in typescript vitest eslint playwright-core; do
  if [ -e "node_modules/$dev" ]; then
    echo "device-install: node_modules/$dev is still installed after the README's steps" >&2
    exit 1
  fi
done
test -f dist/src/cli.js || { echo "device-install: the README's steps left no dist/src/cli.js" >&2; exit 1; }
# dist/ is what the box runs: the compiled agent only, never the benchmark harness (issue 14).
if [ "$(ls dist)" != "src" ]; then
  echo "device-install: dist/ holds $(ls dist | tr '\n' ' '); the build should compile src/ alone" >&2
  exit 1
fi

echo "--- device install: classify $(basename "$speech")"
result="$(./bin/ser-agent.js classify --json --log-level warn "$speech")"
echo "$result"
if [ "$result" != "$expected" ]; then
  echo "device-install: the device install answered differently from the development install:" >&2
  echo "  device:      $result" >&2
  echo "  development: $expected" >&2
  exit 1
fi
echo "--- device install: ok"
