#!/usr/bin/env bash
# Builds every libFuzzer target tests/fuzz/fuzz_*.c with ASan+UBSan and runs each for SECONDS
# (default 60) on its seed corpus tests/fuzz/corpus/NAME (copied: the run's new inputs are
# not kept). A target names what it links in its header comment:
#   FUZZ-SOURCES: translate            (files, or directories meaning all their .c files,
#                                       relative to the repository)
#   FUZZ-PKGS: sofia-sip-ua libidn     (pkg-config packages)
#   FUZZ-MAXLEN: 65536                 (optional: the longest input, default 8192)
# so adding a target is adding one file. A crash, leak, sanitizer report or timeout is a
# finding: the input is written to tests/fuzz/findings/NAME/ and the target fails.
# Prints one line per target and a closing "fuzz: N passed, N failed"; exits 1 on a finding
# or a build failure.
#
# Usage: tests/fuzz/run.sh [SECONDS] [NAME...]   (targets run one after another)
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-60}
shift || true
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
passed=0 failed=0

targets=()
if [ $# -gt 0 ]; then
  for n in "$@"; do targets+=("$top/tests/fuzz/$n.c"); done
else
  for f in "$top"/tests/fuzz/fuzz_*.c; do targets+=("$f"); done
fi

field() { # field FILE KEY -> the value of "KEY: ..." in the file's header comment
  sed -n "s/^[ /*]*$2:[[:space:]]*//p" "$1" | head -1 | sed 's|[[:space:]]*\*/.*$||'
}

build() { # build SRC BIN
  local src=$1 bin=$2 srcs=() pkgs flags=() libs=()
  for g in $(field "$src" FUZZ-SOURCES); do
    if [ -d "$top/$g" ]; then
      for f in "$top/$g"/*.c; do srcs+=("$f"); done
    else
      srcs+=("$top/$g")
    fi
  done
  pkgs=$(field "$src" FUZZ-PKGS)
  if [ -n "$pkgs" ]; then
    read -r -a flags <<<"$(pkg-config --cflags $pkgs)" || return 1
    read -r -a libs <<<"$(pkg-config --libs $pkgs)" || return 1
  fi
  clang -g -O1 -D_GNU_SOURCE -std=c11 -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined -I"$top" "${flags[@]}" "$src" "${srcs[@]}" "${libs[@]}" \
    -o "$bin"
}

for src in "${targets[@]}"; do
  name=$(basename "$src" .c)
  bin="$out/$name"
  if ! build "$src" "$bin" >"$out/$name.build.log" 2>&1; then
    cat "$out/$name.build.log"
    echo "fuzz $name: FAILED (build)"
    failed=$((failed + 1))
    continue
  fi
  mkdir -p "$out/corpus-$name"
  if [ -d "$top/tests/fuzz/corpus/$name" ]; then
    cp -r "$top/tests/fuzz/corpus/$name/." "$out/corpus-$name/"
  fi
  maxlen=$(field "$src" FUZZ-MAXLEN)
  art="$top/tests/fuzz/findings/$name"
  mkdir -p "$art"
  if UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
     "$bin" -max_total_time="$secs" -max_len="${maxlen:-8192}" -timeout=10 -rss_limit_mb=2048 \
       -print_final_stats=1 -artifact_prefix="$art/" "$out/corpus-$name" \
       >"$out/$name.log" 2>&1; then
    runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$out/$name.log" | grep -Eo '[0-9]+$')
    echo "fuzz $name: passed (${runs:-?} inputs in ${secs} s)"
    passed=$((passed + 1))
    rmdir "$art" 2>/dev/null || true
  else
    tail -60 "$out/$name.log"
    echo "fuzz $name: FAILED (finding in $art)"
    failed=$((failed + 1))
  fi
done
rmdir "$top/tests/fuzz/findings" 2>/dev/null || true
echo "fuzz: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
