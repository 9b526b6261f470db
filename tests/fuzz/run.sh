#!/usr/bin/env bash
# Fuzzes the translation core's parsers and the edge link's inbound bytes with libFuzzer under
# ASan+UBSan for SECONDS each (default 60). Not part of the test suite; crashes are written to
# tests/fuzz/crash-* and are bugs.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-60}
out=$(mktemp -d)
clang -g -O1 -D_GNU_SOURCE -std=c11 -fsanitize=fuzzer,address,undefined -I"$top" \
  "$top"/tests/fuzz/fuzz_translate.c "$top"/translate/*.c -o "$out/fuzz_translate"
mkdir -p "$out/corpus"
printf 'sip:bob@contoso.example;gr=x' >"$out/corpus/uri"
printf 'd\\26j@fabrikam.example/res' >"$out/corpus/jid"
printf 'From: <sip:bob@contoso.example>\r\nNS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: 1\r\n\r\nContent-Type: text/plain\r\n\r\nhi' >"$out/corpus/cpim"
cd "$top/tests/fuzz"
"$out/fuzz_translate" -max_total_time="$secs" -max_len=4096 "$out/corpus"
# The edge link's inbound bytes (tests/fuzz/fuzz_edge.c), from a copy of its seed corpus.
clang -g -O1 -D_GNU_SOURCE -std=c11 -fsanitize=fuzzer,address,undefined -I"$top" \
  "$top"/tests/fuzz/fuzz_edge.c "$top"/xmpp/*.c "$top"/translate/*.c \
  -lexpat -lssl -lcrypto -luv -o "$out/fuzz_edge"
cp -r "$top/tests/fuzz/corpus/edge" "$out/corpus_edge"
"$out/fuzz_edge" -max_total_time="$secs" -max_len=65536 "$out/corpus_edge"
