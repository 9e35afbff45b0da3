#!/bin/bash
# Build the libFuzzer targets with clang (-fsanitize=fuzzer,address,undefined)
# and run each for FUZZ_SECONDS (default 30), starting from its seed corpus
# in tests/fuzz/corpus/TARGET. Prints "PASS: fuzz/TARGET" or "FAIL:
# fuzz/TARGET" per target and exits 1 if any target crashed, leaked, hit
# undefined behaviour, timed out on one input, or failed to build.
#
#   tests/fuzz/run-fuzzers.sh                   # every target, 30 s each
#   FUZZ_SECONDS=300 tests/fuzz/run-fuzzers.sh fs_write path
#   FUZZ_BUILD=/tmp/fz tests/fuzz/run-fuzzers.sh   # keep binaries and finds there
#
# A crashing input is kept as FUZZ_BUILD/TARGET/crash-* and printed in hex;
# reproduce with: FUZZ_BUILD/TARGET/fuzz-TARGET FILE. Needs no configure.
set -u
cd "$(dirname "$0")/../.." || exit 2
SRC=$(pwd)
SECONDS_EACH=${FUZZ_SECONDS:-30}
CLANG=${CLANG:-}
if [ -z "$CLANG" ]; then
    for c in clang clang-16 clang-15 clang-14; do
        command -v "$c" >/dev/null 2>&1 && { CLANG=$c; break; }
    done
fi
if [ -z "$CLANG" ]; then
    echo "FAIL: fuzz/build: clang not found (apt-get install clang libclang-rt-14-dev)"
    exit 1
fi

KEEP=1
if [ -z "${FUZZ_BUILD:-}" ]; then
    FUZZ_BUILD=$(mktemp -d /tmp/benchfs-fuzz.XXXXXX)
    KEEP=0
fi
mkdir -p "$FUZZ_BUILD"

CFLAGS="-std=gnu11 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
        -fno-sanitize-recover=undefined -I$SRC -Wall -Wno-unused-parameter"

# target: harness + the code it tests (nothing else: no UCX, no server state)
declare -A SOURCES=(
    [rpc_hdr]="tests/fuzz/fuzz_rpc_hdr.c rpc/rpc_hdr.c"
    [path]="tests/fuzz/fuzz_path.c common/path.c"
    [registry]="tests/fuzz/fuzz_registry.c common/registry.c common/hex.c"
    [dirpage]="tests/fuzz/fuzz_dirpage.c client/dirpage.c"
    [fs_path]="-DFUZZ_FS_OP=PATH tests/fuzz/fuzz_fs_decode.c server/fs_decode.c common/path.c"
    [fs_put]="-DFUZZ_FS_OP=PUT tests/fuzz/fuzz_fs_decode.c server/fs_decode.c common/path.c"
    [fs_dirent]="-DFUZZ_FS_OP=DIRENT tests/fuzz/fuzz_fs_decode.c server/fs_decode.c common/path.c"
    [fs_readdir]="-DFUZZ_FS_OP=READDIR tests/fuzz/fuzz_fs_decode.c server/fs_decode.c common/path.c"
    [fs_write]="-DFUZZ_FS_OP=WRITE tests/fuzz/fuzz_fs_decode.c server/fs_decode.c common/path.c"
    [fs_target]="-DFUZZ_FS_OP=TARGET tests/fuzz/fuzz_fs_decode.c server/fs_decode.c common/path.c"
    [fs_rename]="-DFUZZ_FS_OP=RENAME tests/fuzz/fuzz_fs_decode.c server/fs_decode.c common/path.c"
)
ORDER="rpc_hdr path registry dirpage fs_path fs_put fs_dirent fs_readdir fs_write fs_target fs_rename"
TARGETS=${*:-$ORDER}

fails=0
for t in $TARGETS; do
    if [ -z "${SOURCES[$t]:-}" ]; then
        echo "FAIL: fuzz/$t: no such target (targets: $ORDER)"
        fails=$((fails + 1))
        continue
    fi
    dir="$FUZZ_BUILD/$t"
    rm -rf "$dir/corpus"
    mkdir -p "$dir/corpus"
    bin="$dir/fuzz-$t"
    # shellcheck disable=SC2086
    if ! (cd "$SRC" && $CLANG $CFLAGS -o "$bin" ${SOURCES[$t]}) >"$dir/build.log" 2>&1; then
        cat "$dir/build.log"
        echo "FAIL: fuzz/$t: build failed"
        fails=$((fails + 1))
        continue
    fi
    echo "# fuzz/$t: $SECONDS_EACH s from $(ls "$SRC/tests/fuzz/corpus/$t" | wc -l) seeds"
    # New inputs go to the scratch corpus (first directory), never into the
    # source tree. detect_leaks: the decoders must not leak either.
    ASAN_OPTIONS="detect_leaks=1:${ASAN_OPTIONS:-}" \
    "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$dir/" "$dir/corpus" "$SRC/tests/fuzz/corpus/$t" >"$dir/run.log" 2>&1
    rc=$?
    runs=$(awk -F'[: ]+' '/stat::number_of_executed_units/ { print $NF }' "$dir/run.log")
    if [ $rc -ne 0 ]; then
        tail -40 "$dir/run.log"
        for a in "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-*; do
            [ -f "$a" ] || continue
            echo "--- $a ($(stat -c %s "$a") bytes):"
            od -A d -t x1 "$a" | head -20
        done
        echo "FAIL: fuzz/$t (exit $rc after ${runs:-?} runs; log $dir/run.log)"
        fails=$((fails + 1))
        KEEP=1
    else
        echo "PASS: fuzz/$t (${runs:-?} runs, corpus $(ls "$dir/corpus" | wc -l) inputs)"
    fi
done
if [ $KEEP = 0 ]; then
    rm -rf "$FUZZ_BUILD"
else
    echo "# binaries, logs and corpora in $FUZZ_BUILD"
fi
[ $fails -eq 0 ]
