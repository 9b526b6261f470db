#!/usr/bin/env bash
# Installs every Debian 12 package sipxmpp needs to build, run and test. Idempotent and
# non-interactive; run as root (or through sudo).
#
# - `apt-get update` runs only when a package is missing and the package lists are older
#   than a day (or absent, or lack a candidate for a missing package).
# - System services are never started: during the install /usr/sbin/policy-rc.d (exit 101)
#   forbids it, unless such a file already exists (then it is left as it is). Services that
#   this run installs are disabled again (Debian's postinst enables them), so nothing of ours
#   listens on 5060/5222/5269 after a reboot either.
# - A system Prosody or Kamailio found running (pidfile under /run) is stopped: the tests and
#   the demo run their own instances and must not meet one on the standard ports.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  libsofia-sip-ua-dev libuv1-dev libssl-dev libsqlite3-dev sqlite3
  libinih-dev libcjson-dev libmicrohttpd-dev libcurl4-openssl-dev libexpat1-dev libidn-dev
  libpq-dev postgresql clang lua5.4
  prosody kamailio sip-tester ejabberd dnsmasq-base baresip-core
  kamailio-presence-modules kamailio-sqlite-modules
  python3 python3-slixmpp python3-pytest
  chromium chromium-driver python3-selenium
  curl procps iproute2 ca-certificates systemd dpkg-dev openssl
)
SERVICES=(prosody kamailio ejabberd postgresql)

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    exec sudo -n -- "$0" "$@"
  fi
  echo "setup.sh: must run as root" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
log() { echo "setup: $*"; }

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

missing=()
for p in "${PACKAGES[@]}"; do
  installed "$p" || missing+=("$p")
done

lists_fresh() {
  local newest
  newest=$(find /var/lib/apt/lists -maxdepth 1 -type f -name '*_Packages*' -printf '%T@\n' \
             2>/dev/null | sort -n | tail -1)
  [ -n "$newest" ] || return 1
  [ $(( $(date +%s) - ${newest%.*} )) -lt 86400 ]
}

has_candidates() {
  local p
  for p in "$@"; do
    apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [^(]' || return 1
  done
}

ours_policy=0
cleanup() {
  if [ "$ours_policy" = 1 ]; then
    rm -f /usr/sbin/policy-rc.d
  fi
}
trap cleanup EXIT

newly=()
if [ ${#missing[@]} -gt 0 ]; then
  log "missing packages: ${missing[*]}"
  if ! lists_fresh || ! has_candidates "${missing[@]}"; then
    log "apt-get update"
    apt-get update -q
  fi
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# written by sipxmpp scripts/setup.sh during apt-get install\nexit 101\n' \
      >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    ours_policy=1
  fi
  for s in "${SERVICES[@]}"; do
    installed "$s" || newly+=("$s")
  done
  apt-get install -y -q --no-install-recommends "${missing[@]}"
  cleanup
  ours_policy=0
else
  log "all packages present"
fi

# Services installed by this run: not enabled at boot.
if [ ${#newly[@]} -gt 0 ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
  for s in "${newly[@]}"; do
    systemctl disable --now "$s" >/dev/null 2>&1 || true
  done
fi

# A system instance left running (from before, or started by something else) is stopped.
stop_pidfile() {
  local name=$1 pidfile=$2 pid comm i
  [ -f "$pidfile" ] || return 0
  pid=$(tr -dc '0-9' <"$pidfile")
  [ -n "$pid" ] || return 0
  [ -d "/proc/$pid" ] || return 0
  comm=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)
  case $comm in
    *"$name"*) ;;
    *) return 0 ;;
  esac
  log "stopping system $name (pid $pid)"
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    systemctl stop "$name" >/dev/null 2>&1 || true
  fi
  if [ -d "/proc/$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 50); do
      [ -d "/proc/$pid" ] || break
      sleep 0.1
    done
    [ -d "/proc/$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  fi
  return 0
}
stop_pidfile prosody /run/prosody/prosody.pid
stop_pidfile kamailio /run/kamailio/kamailio.pid

# Everything needed is there now.
still=()
for p in "${PACKAGES[@]}"; do
  installed "$p" || still+=("$p")
done
if [ ${#still[@]} -gt 0 ]; then
  echo "setup.sh: still missing: ${still[*]}" >&2
  exit 1
fi
/usr/bin/python3 -c 'import slixmpp, pytest' 2>/dev/null \
  || { /usr/bin/python3 -c 'import slixmpp, pytest'; echo "setup.sh: python modules missing" >&2; exit 1; }
log "ok"
