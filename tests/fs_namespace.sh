#!/bin/bash
# Directory semantics (tests/fs_namespace.c, issue 11 part 9) on 1, 2 and 3
# servers: readdir of an empty directory never fails (the mkdir + readdir +
# rmdir loop that found EAGAIN on 2 servers, through the API and through
# the preload from several python3 processes), paths up to 4095 bytes
# through the API and through the preload by real programs (mkdir -p, dd,
# cat, find, python3 os.makedirs/open/listdir, mv, rm -r), the parent's
# mtime/ctime after every kind of mutation, directories' nlink; afterwards
# the tables hold what an empty file system holds.
#   FS_NS_SERVERS      server counts to run (default "1 2 3")
#   FS_EMPTYDIR_ROUNDS rounds of the empty-directory loops per process (100)
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || { echo "SKIP: python3 not installed"; exit 77; }
count() {
    "$top_builddir/tests/meta_count" "$1"/server-*/meta
}
rounds=${FS_EMPTYDIR_ROUNDS:-100}
# A directory path of 4093 bytes under the mount (255-byte names): its file
# "f" is 4095 bytes, PATH_MAX less the NUL.
deep=$(python3 -c '
p = "/benchfs/plp"; i = 0
while len(p) < 4093:
    n = min(255, 4093 - len(p) - 1); p += "/" + chr(97 + i % 26) * n; i += 1
print(p)')
[ ${#deep} = 4093 ] || fail "deep path is ${#deep} bytes"
preload_long() {
    with_preload mkdir -p "$deep" || fail "mkdir -p of 4093 bytes"
    [ "$(with_preload stat -c '%F %h' "$deep")" = "directory 2" ] || fail "stat of 4093 bytes"
    # (sh's redirection, not dd: an ASan runtime refuses dd's aligned_alloc.)
    with_preload sh -c 'echo hello > "$1"' sh "$deep/f" || fail "write to 4095 bytes"
    [ "$(with_preload cat "$deep/f")" = hello ] || fail "cat of 4095 bytes"
    [ "$(with_preload find /benchfs/plp | wc -l)" = 18 ] || fail "find: $(with_preload find /benchfs/plp | wc -l) names"
    [ "$(with_preload find /benchfs/plp -type f)" = "$deep/f" ] || fail "find -type f"
    with_preload python3 -c '
import os, sys
d = sys.argv[1].replace("/benchfs/plp", "/benchfs/plq")
os.makedirs(d)
with open(d + "/p", "w") as f:
    f.write("py")
assert len(d + "/p") == 4095
assert open(d + "/p").read() == "py"
assert os.listdir(d) == ["p"]
try:
    os.mkdir(d + "/pp")
    sys.exit("mkdir of 4096 bytes succeeded")
except OSError as e:
    assert e.errno == 36, e
' "$deep" || fail "python3 at 4095 bytes"
    with_preload mv /benchfs/plq /benchfs/plr || fail "mv of the long tree"
    [ "$(with_preload ls "${deep/plp/plr}")" = p ] || fail "ls after mv"
    with_preload rm -r /benchfs/plp /benchfs/plr || fail "rm -r of the long trees"
    [ -z "$(with_preload ls /benchfs)" ] || fail "left: $(with_preload ls /benchfs)"
}
preload_emptydir() {
    local w pids=""
    for w in 1 2 3 4; do
        with_preload mkdir -p /benchfs/ed/w$w || fail "mkdir /benchfs/ed/w$w"
        with_preload timeout 300 python3 "$top_srcdir/tests/fs_namespace_emptydir.py" \
            /benchfs/ed/w$w "$rounds" & pids="$pids $!"
    done
    for w in $pids; do wait "$w" || fail "readdir of an empty directory through the preload failed"; done
    with_preload rm -r /benchfs/ed || fail "rm -r /benchfs/ed"
}
for n in ${FS_NS_SERVERS:-1 2 3}; do
    d="$T/d$n"
    start_servers "$n" "$d" || exit 1
    stop_servers || fail "servers did not stop cleanly"
    before=$(count "$d") || fail "meta_count"
    start_servers "$n" "$d" || exit 1
    for t in "emptydir $rounds" longpath parent nlink; do
        # shellcheck disable=SC2086
        timeout 300 "$top_builddir/tests/fs_namespace" $t || fail "fs_namespace $t, $n servers (exit status $?)"
    done
    preload_long
    preload_emptydir
    stop_servers || fail "servers did not stop cleanly ($n servers)"
    after=$(count "$d") || fail "meta_count"
    echo "# $n servers: empty: $before; after deleting everything: $after"
    [ "$before" = "$after" ] || fail "space did not come back: $before -> $after"
done
echo "PASS: fs_namespace"
