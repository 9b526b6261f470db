#!/usr/bin/env bash
# README command 1: installs everything, builds, and runs the local demo in the foreground.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bash scripts/setup.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/release -j"$(nproc)"
exec /usr/bin/python3 scripts/demo.py --build "$top/build/release"
