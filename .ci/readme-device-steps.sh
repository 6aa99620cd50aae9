#!/usr/bin/env bash
# Prints the README's "Install on a device" commands that users copy, one per line: the `npm`
# and `./bin/ser-agent.js` lines of its first sh block, with `sudo` and comments stripped (the
# other lines install system packages and users, which CI does itself). Used by
# .ci/device-install.sh (x64) and .ci/arm64.sh (arm64 under emulation), so both run exactly
# what the README says.
set -euo pipefail
readme="${1:?usage: readme-device-steps.sh README.md}"
steps="$(
  awk '/^## Install on a device/{section=1} section && /^```sh/{block=1; next} block && /^```/{exit} block' "$readme" |
    sed -n 's/^\(sudo \)\{0,1\}\(npm [^#]*\|\.\/bin\/ser-agent\.js [^#]*\).*$/\2/p' | sed 's/[[:space:]]*$//'
)"
if [ "$(printf '%s\n' "$steps" | grep -c .)" -lt 2 ]; then
  echo "readme-device-steps: found no npm and ./bin/ser-agent.js lines in $readme's \"Install on a device\" block" >&2
  exit 1
fi
printf '%s\n' "$steps"
