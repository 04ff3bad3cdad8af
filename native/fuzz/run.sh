#!/bin/sh
# npm run fuzz: builds native/fuzz/queue_fuzz.cc with clang++ and libFuzzer (ASan + UBSan, every
# finding fatal) and runs it for FUZZ_SECONDS (default 60). Exits non-zero on a crash, a sanitizer
# report or a broken invariant; the input that did it is left as build/fuzz/crash-*.
# The corpus (build/fuzz/corpus) is kept between runs, so each run starts where the last stopped.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${FUZZ_OUT:-$root/build/fuzz}
seconds=${FUZZ_SECONDS:-60}
cxx=${CXX:-clang++}

if ! command -v "$cxx" >/dev/null 2>&1; then
  echo "npm run fuzz needs clang++ with libFuzzer (Debian: apt-get install clang)" >&2
  exit 2
fi
mkdir -p "$out/corpus" "$out/seeds"
"$cxx" -std=c++17 -g -O1 -Wall -Wextra -Werror \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  "$here/queue_fuzz.cc" -o "$out/queue_fuzz"
node "$here/seeds.mjs" "$out/seeds"

# -max_len: the seeds' largest segment (capacity 8, one page per arena) is 12 KiB.
exec "$out/queue_fuzz" -max_total_time="$seconds" -max_len=16384 -use_value_profile=1 \
  -print_final_stats=1 -artifact_prefix="$out/" "$out/corpus" "$out/seeds"
