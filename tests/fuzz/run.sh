#!/usr/bin/env bash
# Fuzzes the translation core's parsers with libFuzzer under ASan+UBSan for SECONDS (default
# 60). Not part of the test suite; crashes are written to tests/fuzz/crash-* and are bugs.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-60}
out=$(mktemp -d)
clang -g -O1 -D_GNU_SOURCE -std=c11 -fsanitize=fuzzer,address,undefined -I"$top" \
  "$top"/tests/fuzz/fuzz_translate.c "$top"/translate/*.c -lexpat -o "$out/fuzz_translate"
mkdir -p "$out/corpus"
printf 'sip:bob@contoso.example;gr=x' >"$out/corpus/uri"
printf 'd\\26j@fabrikam.example/res' >"$out/corpus/jid"
printf "<presence xmlns='urn:ietf:params:xml:ns:pidf' xmlns:dm='urn:ietf:params:xml:ns:pidf:data-model' xmlns:rpid='urn:ietf:params:xml:ns:pidf:rpid'><tuple id='t'><status><basic>open</basic></status><note xml:lang='en'>x</note></tuple><dm:person id='p'><rpid:activities><rpid:busy/></rpid:activities></dm:person></presence>" >"$out/corpus/pidf"
printf 'From: <sip:bob@contoso.example>\r\nNS: imdn <urn:ietf:params:imdn>\r\nimdn.Message-ID: 1\r\n\r\nContent-Type: text/plain\r\n\r\nhi' >"$out/corpus/cpim"
cd "$top/tests/fuzz"
"$out/fuzz_translate" -max_total_time="$secs" -max_len=4096 "$out/corpus"
