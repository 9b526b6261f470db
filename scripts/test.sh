#!/usr/bin/env bash
# README command 2: installs everything, builds with AddressSanitizer + UndefinedBehaviorSanitizer,
# and runs every test suite: unit (ctest), CLI, integration through real Prosody and Kamailio,
# and every libFuzzer target (tests/fuzz/run.sh) for SX_FUZZ_SECONDS (default 60) each.
# Prints one closing line "N passed, N failed" over all suites; exits non-zero on any failure.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

bash scripts/setup.sh || { echo "setup failed"; exit 1; }

# The optimised build of README command 1 must compile too (-O2 runs more of GCC's checks).
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 1
cmake --build build/release -j"$(nproc)" --target sipxmppd sipxmppctl || { echo "release build failed"; exit 1; }

build=${SX_BUILD_DIR:-$top/build/asan}
cmake -S . -B "$build" -DSX_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null || exit 1
cmake --build "$build" -j"$(nproc)" || { echo "build failed"; exit 1; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

passed=0 failed=0
add() { passed=$((passed + $1)); failed=$((failed + $2)); }

# Pulls the last "N passed" / "N failed" counts out of a suite's log.
count() {
  local log=$1 p f
  p=$(grep -Eo '[0-9]+ passed' "$log" | tail -1 | grep -Eo '[0-9]+' || true)
  f=$(grep -Eo '[0-9]+ failed' "$log" | tail -1 | grep -Eo '[0-9]+' || true)
  add "${p:-0}" "${f:-0}"
}

logs=$(mktemp -d)
echo "== unit tests (ctest)"
if ctest --test-dir "$build" --output-on-failure 2>&1 | tee "$logs/unit.log"; then :; fi
up=$(grep -Eo '[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$logs/unit.log" | tail -1)
if [ -n "$up" ]; then
  total=$(echo "$up" | grep -Eo 'out of [0-9]+' | grep -Eo '[0-9]+')
  uf=$(echo "$up" | grep -Eo '[0-9]+ tests failed' | grep -Eo '[0-9]+')
  add $((total - uf)) "$uf"
else
  add 0 1
fi

echo "== integration tests (Prosody, Kamailio, sipxmppd)"
SX_BUILD_DIR="$build" bash tests/run-integration.sh 2>&1 | tee "$logs/integration.log"
rc=${PIPESTATUS[0]}
ip=$(grep -Eo '[0-9]+ passed' "$logs/integration.log" | tail -1 | grep -Eo '[0-9]+' || true)
if_=$(grep -E '^(=+ )?.*[0-9]+ (passed|failed|errors?)' "$logs/integration.log" | tail -1 | grep -Eo '[0-9]+ (failed|errors?)' | awk '{s+=$1} END{print s+0}')
add "${ip:-0}" "${if_:-0}"
[ "$rc" -eq 0 ] || [ "${if_:-0}" -gt 0 ] || add 0 1

# Every libFuzzer target for SX_FUZZ_SECONDS each (default 60) under ASan+UBSan; a finding
# fails the target. SX_FUZZ_SECONDS=0 skips fuzzing (local runs only).
fuzz_secs=${SX_FUZZ_SECONDS:-60}
if [ "$fuzz_secs" -gt 0 ]; then
  echo "== fuzzing (${fuzz_secs} s per target)"
  bash tests/fuzz/run.sh "$fuzz_secs" 2>&1 | tee "$logs/fuzz.log"
  frc=${PIPESTATUS[0]}
  fl=$(grep -E '^fuzz: [0-9]+ passed, [0-9]+ failed' "$logs/fuzz.log" | tail -1)
  if [ -n "$fl" ]; then
    fp=$(echo "$fl" | grep -Eo '[0-9]+ passed' | grep -Eo '[0-9]+')
    ff=$(echo "$fl" | grep -Eo '[0-9]+ failed' | grep -Eo '[0-9]+')
    add "$fp" "$ff"
    [ "$frc" -eq 0 ] || [ "$ff" -gt 0 ] || add 0 1
  else
    add 0 1
  fi
fi

rm -rf "$logs"
echo
echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
