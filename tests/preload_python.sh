#!/bin/bash
# python3 (open/read/write/seek, os.listdir/rename/stat, shutil.copytree and
# rmtree) on BenchFS through LD_PRELOAD.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || { echo "SKIP: python3 not installed"; exit 77; }
start_servers 1 "$T/dir" --chunk-size 64K || exit 1
mkdir -p "$T/src/a/b"
for i in $(seq 1 20); do head -c $((i * 5000)) /dev/urandom > "$T/src/a/f$i"; done
head -c 200000 /dev/urandom > "$T/src/a/b/deep"
with_preload python3 "$top_srcdir/tests/preload_python.py" "$T/src" || fail "python on BenchFS"
echo "PASS: python"
