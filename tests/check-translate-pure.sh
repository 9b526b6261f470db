#!/bin/sh
# Fails if any file under translate/ includes a Sofia-SIP, libstrophe, expat, libuv, OpenSSL or
# SQLite header: the translation core is pure C and sees only plain structs.
dir=${1:-translate}
bad=$(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](sofia-sip/|su_|nua|sip\.h|strophe\.h|expat\.h|uv\.h|uv/|openssl/|sqlite3\.h)' "$dir")
if [ -n "$bad" ]; then
  echo "translate/ must stay pure; library headers included:" >&2
  echo "$bad" >&2
  exit 1
fi
echo "translate/ is pure: $(ls "$dir" | wc -l) files checked"
