#!/usr/bin/env bash
# Integration tests: real Prosody, real Kamailio and sipxmppd on 127.0.0.1 (random ports).
# Usage: SX_BUILD_DIR=/path/to/build tests/run-integration.sh [pytest args...]
# Debian's python3 (with python3-slixmpp and python3-pytest) is required: /usr/bin/python3.
# The exit code is pytest's.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export SX_BUILD_DIR=${SX_BUILD_DIR:-$top/build}
case $SX_BUILD_DIR in /*) ;; *) SX_BUILD_DIR=$(cd "$SX_BUILD_DIR" && pwd) ;; esac
export SX_TORTURE_DIR=${SX_TORTURE_DIR:-$top/../shared/sip-torture}
export PYTHONDONTWRITEBYTECODE=1
cd "$top"
# Without a test path among the arguments, the whole suite runs.
paths=(tests/integration)
for a in "$@"; do
  case $a in
    tests/*|./tests/*|/*) paths=() ;;
  esac
done
exec /usr/bin/python3 -m pytest -q -p no:cacheprovider -o console_output_style=classic \
  "$@" "${paths[@]}"
