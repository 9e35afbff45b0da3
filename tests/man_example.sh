#!/bin/bash
# The EXAMPLE of client/benchfs.3 is a real program: extracted from the page,
# it compiles against the build tree's benchfs.h and libbenchfs-client, and
# runs against a standalone server (writes, reads back, lists, cleans up).
. "$(dirname "$0")/lib.sh"
CC=${CC:-gcc}
command -v "$CC" >/dev/null || { echo "SKIP: no C compiler"; exit 77; }
# Lines between the example markers, with the page's escapes undone.
sed -n '/^\.\\" example-begin/,/^\.\\" example-end/p' "$top_srcdir/client/benchfs.3" |
    sed -e '1d' -e '$d' -e 's/\\-/-/g' -e 's/\\e/\\/g' -e 's/\\&//g' >"$T/example.c"
[ "$(wc -l <"$T/example.c")" -gt 20 ] || fail "no example found in client/benchfs.3"
# A library built with --enable-sanitizers needs the program built so too
# (the ASan runtime must come first).
san=; [ "$PRELOAD_SANITIZED" = 1 ] && san="-fsanitize=address,undefined"
"$CC" -std=gnu11 -Wall -Wextra -Werror $san -I"$top_srcdir/client" -o "$T/example" "$T/example.c" \
    -L"$top_builddir/client/.libs" -lbenchfs-client || fail "the example of benchfs.3 does not build"
start_servers 0 "$T/dir" || exit 1
LD_LIBRARY_PATH="$top_builddir/client/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    timeout 60 "$T/example" >"$T/out" 2>&1 || { cat "$T/out"; fail "the example of benchfs.3 failed"; }
cat "$T/out"
grep -qx "1 servers, chunk size 1048576" "$T/out" || fail "example: server count and chunk size"
grep -qx "read 15 bytes: hello, BenchFS" "$T/out" || fail "example: read back"
grep -qx "entry hello" "$T/out" || fail "example: listing"
echo "PASS: the benchfs.3 example builds and runs"
