#!/bin/bash
# Descriptors that escape the library, without a FUSE mount (issue 12): a
# shell's redirections, children after exec, libc's stdio on fds 0-2,
# Python's subprocess, sort -o, tee. Everything must land in BenchFS byte
# for byte, with one offset shared by parent and child as POSIX says; a
# program that cannot load the library (a static binary) must get an error,
# never an empty file with exit status 0.
. "$(dirname "$0")/lib.sh"
start_servers 1 "$T/dir" --chunk-size 64K || exit 1
export UCX_MEM_MMAP_HOOK_MODE=none BENCHFS_FUSE=0
M=/benchfs/esc
sh_pl() { with_preload timeout 60 bash -c "$1"; }
check() { # check PATH EXPECTED-CONTENT WHAT
    local got
    got=$(with_preload timeout 30 cat "$1" 2>&1)
    [ "$got" = "$2" ] || { printf 'got:\n%s\nexpected:\n%s\n' "$got" "$2"; fail "$3"; }
    echo "# ok $3"
}
sh_pl "mkdir -p $M" || fail "mkdir"

sh_pl "echo hi > $M/a" || fail "echo > file"
check $M/a hi "bash > file"
sh_pl "echo x >> $M/log; echo y >> $M/log; /bin/echo z >> $M/log" || fail ">>"
check $M/log "$(printf 'x\ny\nz')" "bash >> file, builtin and external"
sh_pl "{ echo a; /bin/echo b; echo c; } > $M/group" || fail "group"
check $M/group "$(printf 'a\nb\nc')" "{ builtin; external; builtin; } > f shares one offset"
sh_pl "exec 3> $M/fd3; echo one >&3; /bin/echo two >&3; printf three >&3; exec 3>&-" || fail "exec 3>"
check $M/fd3 "$(printf 'one\ntwo\nthree')" "exec 3> f, writes from the shell and a child"
sh_pl "sh -c 'echo out; echo err >&2; /bin/echo out2' > $M/both 2>&1" || fail "2>&1"
check $M/both "$(printf 'out\nerr\nout2')" "2>&1 into the mount"
sh_pl "seq 1 20000 > $M/seq" || fail "seq"
[ "$(with_preload cat $M/seq | sha256sum)" = "$(seq 1 20000 | sha256sum)" ] || fail "seq > f (stdio of an exec'd program)"
echo "# ok seq 1 20000 > f: libc's buffered stdout in the child"
sh_pl "printf '3\n1\n2\n' > $M/in; sort -n $M/in -o $M/sorted" || fail "sort -o"
check $M/sorted "$(printf '1\n2\n3')" "sort -n in -o sorted"
sh_pl "echo tee-line | tee $M/tee >/dev/null" || fail "tee"
check $M/tee tee-line "tee into the mount"
sh_pl "exec 5< $M/a; cat <&5; exec 5<&-" > "$T/out5" || fail "exec 5<"
[ "$(cat "$T/out5")" = hi ] || fail "child reads an inherited BenchFS descriptor as stdin"
echo "# ok exec 5< f; cat <&5"
# The carried descriptor names the file, not the path: renamed and replaced
# before the child runs, the child still reads the file it was given.
sh_pl "echo old > $M/r; exec 4< $M/r; mv $M/r $M/r2; echo new > $M/r; cat <&4" > "$T/out4" || fail "exec 4<, mv"
[ "$(cat "$T/out4")" = old ] || fail "a child read '$(cat "$T/out4")' through a descriptor of a renamed file (another file under the old name)"
echo "# ok a descriptor carried across exec follows its file through a rename"
with_preload timeout 60 python3 - "$M" <<'PY' || fail "python subprocess"
import subprocess, sys
m = sys.argv[1]
with open(m + "/py", "w") as f:
    f.write("first\n"); f.flush()
    subprocess.run(["/bin/echo", "from-child"], stdout=f, check=True)
    subprocess.run(["sh", "-c", "echo from-sh; echo err >&2"], stdout=f, stderr=subprocess.STDOUT, check=True)
    f.write("last\n")
print(open(m + "/py").read(), end="")
PY
check $M/py "$(printf 'first\nfrom-child\nfrom-sh\nerr\nlast')" "python subprocess with stdout to a BenchFS file"
sh_pl "cd $M && echo rel > rel.txt && cat rel.txt" > "$T/rel" || fail "relative redirect"
[ "$(cat "$T/rel")" = rel ] || fail "redirect relative to a cwd inside the mount"
echo "# ok redirect relative to a BenchFS cwd"

# A program that cannot load the library: an error, never a silent success.
if [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; then
    sh_pl "/bin/busybox echo static > $M/static" 2>"$T/static.err"; rc=$?
    [ $rc -ne 0 ] || fail "a static binary writing into a BenchFS file succeeded without FUSE"
    grep -q "no FUSE mount" "$T/static.err" || { cat "$T/static.err"; fail "no explanation for the refused escape"; }
    echo "# ok static binary: exit $rc and one line: $(grep -m1 'no FUSE' "$T/static.err" | cut -c1-60)..."
else
    echo "# SKIPPED static-binary check: busybox-static not installed" >&2
fi

# BENCHFS_REPORT=1 says what the library served.
BENCHFS_REPORT=1 with_preload cat $M/a 2>"$T/report" >/dev/null
grep -Eq "benchfs report: pid [0-9]+ \(cat\): open [1-9].* read [1-9].* requests [1-9]" "$T/report" || { cat "$T/report"; fail "BENCHFS_REPORT"; }
echo "# ok BENCHFS_REPORT: $(grep -m1 'benchfs report' "$T/report")"
stop_servers || fail "servers did not stop cleanly"
echo "PASS: escapes without FUSE"
