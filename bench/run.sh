#!/usr/bin/env bash
# sipxmppd benchmark: real Prosody + sipxmppd + SIPp on 127.0.0.1, figures printed and
# written to bench/results-latest.txt. Not a test; never part of the test suite.
#
# usage: bench/run.sh [--quick] [--no-build] [--build-dir DIR] [--keep] [bench.py options]
#   (default: ~6 min; 4 s steps, two bisections, perf profiles, large-store run)
#   --quick       ~3 min: 2 s steps, one bisection, no profile, no large-store run
#   --no-build    use the binaries already in the build directory
#   --build-dir   release build directory (default build/release)
#   other options go to bench/bench.py (e.g. --phases prosody,tcp --step-s 3
#   --gw-set sip.max_in_flight=1024 --stall-rate 20000 --no-profile --prosody-nagle --keep)
#   phases: prosody,udp,tcp,xmpp,xmpptcp,ratios,burst,stall,store,policy
#   --edge ejabberd   ejabberd instead of Prosody as the edge (its ceiling is higher, so the
#                     gateway's own shows)
# Needs what scripts/setup.sh installs, plus linux-perf for the profiles of a full run (a
# bench-only dependency, not in setup.sh: `apt-get install linux-perf`).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
BUILD="$ROOT/build/release"
DO_BUILD=1
PASS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) DO_BUILD=0 ;;
    --build-dir) BUILD="$(realpath -m "$2")"; shift ;;
    --build-dir=*) BUILD="$(realpath -m "${1#*=}")" ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) PASS+=("$1") ;;
  esac
  shift
done

for tool in sipp prosody prosodyctl cc cmake; do
  command -v "$tool" >/dev/null || { echo "bench: $tool not found (run scripts/setup.sh)" >&2; exit 2; }
done
command -v perf >/dev/null ||
  echo "bench: perf not found: no profiles (apt-get install linux-perf)" >&2
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

TOOLS="$BUILD/bench"
mkdir -p "$TOOLS"
if [ "$DO_BUILD" = 1 ]; then
  echo "== building sipxmppd/sipxmppctl (RelWithDebInfo) in $BUILD"
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$TOOLS/cmake.log" 2>&1 ||
    { cat "$TOOLS/cmake.log" >&2; exit 2; }
  timeout 900 cmake --build "$BUILD" --target sipxmppd sipxmppctl -j2 >"$TOOLS/build.log" 2>&1 ||
    { tail -30 "$TOOLS/build.log" >&2; echo "bench: build failed (log $TOOLS/build.log)" >&2; exit 2; }
fi
for b in sipxmppd sipxmppctl; do
  [ -x "$BUILD/$b" ] || { echo "bench: no $BUILD/$b" >&2; exit 2; }
done

CFLAGS_BENCH="-O2 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra"
cc $CFLAGS_BENCH -o "$TOOLS/xmppbench" "$HERE/xmppbench.c"

POLICY_BENCH=""
if [ -f "$HERE/policy_bench.c" ]; then
  # A CMake target of that name wins; else link it against the store and core libraries.
  if [ "$DO_BUILD" = 1 ] && timeout 600 cmake --build "$BUILD" --target policy_bench -j2 >"$TOOLS/policy_bench.log" 2>&1 \
      && [ -x "$BUILD/policy_bench" ]; then
    POLICY_BENCH="$BUILD/policy_bench"
  else
    if [ "$DO_BUILD" = 1 ]; then
      timeout 600 cmake --build "$BUILD" --target sx_conf sx_translate -j2 >>"$TOOLS/policy_bench.log" 2>&1 || true
    fi
    if [ -f "$BUILD/libsx_conf.a" ] && [ -f "$BUILD/libsx_translate.a" ] &&
       cc $CFLAGS_BENCH -I"$ROOT" -o "$TOOLS/policy_bench" "$HERE/policy_bench.c" \
          "$BUILD/libsx_conf.a" "$BUILD/libsx_translate.a" -lsqlite3 -linih -lcjson -lm \
          >>"$TOOLS/policy_bench.log" 2>&1; then
      POLICY_BENCH="$TOOLS/policy_bench"
    else
      echo "bench: policy_bench did not build (log $TOOLS/policy_bench.log); skipped" >&2
    fi
  fi
fi

DRIVER_PID=""
cleanup() {
  # bench.py ends its own children; this only covers an interrupted driver.
  if [ -n "$DRIVER_PID" ] && kill -0 "$DRIVER_PID" 2>/dev/null; then
    kill -TERM "$DRIVER_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$DRIVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$DRIVER_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$PY" "$HERE/bench.py" --build-dir "$BUILD" --xmppbench "$TOOLS/xmppbench" \
  --policy-bench "$POLICY_BENCH" --results "$HERE/results-latest.txt" ${PASS[@]+"${PASS[@]}"} &
DRIVER_PID=$!
set +e
wait "$DRIVER_PID"
RC=$?
DRIVER_PID=""
exit $RC
