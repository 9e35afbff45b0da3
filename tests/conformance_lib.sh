# Third-party suites (../shared/conformance, see its README): where the
# sources are, and building them in the test's own directory (never copied
# into this repository). BENCHFS_CONFORMANCE overrides the folder.
conformance_dir() {
    local d
    for d in "${BENCHFS_CONFORMANCE:-}" "$top_srcdir/../shared/conformance" /work/shared/conformance; do
        [ -n "$d" ] && [ -d "$d" ] && { echo "$d"; return 0; }
    done
    return 1
}
# build_fsx OUT: fsx built into OUT
build_fsx() {
    local conf tb
    conf=$(conformance_dir) || fail "no conformance sources (set BENCHFS_CONFORMANCE to shared/conformance)"
    tb=$(ls "$conf"/xfstests-fsx-*.tar.gz 2>/dev/null | head -1)
    [ -n "$tb" ] || fail "no xfstests-fsx-*.tar.gz in $conf"
    mkdir -p "$T/fsx-src" && tar -C "$T/fsx-src" -xzf "$tb" || fail "cannot unpack $tb"
    (cd "$T/fsx-src"/xfstests-fsx && gcc -O2 -D_GNU_SOURCE -include src/config.h -Isrc -Iinclude ltp/fsx.c -o "$1") ||
        fail "cannot build fsx"
}
