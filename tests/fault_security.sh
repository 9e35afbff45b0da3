#!/bin/bash
# Security: the job secret, the registry file, logs, malformed input.
#
# Three servers with BENCHFS_LOG=debug (servers started under umask 000, so
# the registry's mode cannot come from the umask). Checked:
#  - the registry is mode 0600, owned by the job's user, and another user
#    (nobody) cannot read it;
#  - requests with another job's secret or none are refused (EACCES), and
#    every kind of malformed request (fs_security_test: truncated and
#    oversized headers, lengths that overflow or do not match, unknown RPC
#    ids, AM ids outside the RPC range, paths with "..", relative paths,
#    NUL bytes, names over NAME_MAX, paths over PATH_MAX, bad entry names,
#    chunk ranges that overflow), sent 20 times in a row to every server,
#    is refused with an error, logged, at most once a second per kind and
#    server, and the servers keep serving;
#  - through the preload library: names over NAME_MAX and paths over
#    PATH_MAX give ENAMETOOLONG, and paths that leave the mount
#    ("/benchfs/../etc/hostname", "../.." from a BenchFS directory) are the
#    host's files, never BenchFS's;
#  - the secret (hex, either case, or decimal) appears in no server log and
#    no client output, at debug level.
. "$(dirname "$0")/lib.sh"
heavy
FC="$top_builddir/tests/fault_client"
export BENCHFS_LOG=debug
t_begin=$(date +%s)
umask_was=$(umask)
umask 000
start_servers 3 "$T/dir" --chunk-size 64K || exit 1
umask "$umask_was"

# The registry.
reg=$BENCHFS_REGISTRY
mode=$(stat -c %a "$reg")
owner=$(stat -c %u "$reg")
echo "# registry: mode $mode, owner uid $owner"
[ "$mode" = 600 ] || fail "registry mode $mode, not 600"
[ "$owner" = "$(id -u)" ] || fail "registry owned by uid $owner, not $(id -u)"
chmod 711 "$T"   # let another user reach the file, to see the file itself refuse
if command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
    if setpriv --reuid=nobody --regid=nogroup --clear-groups cat "$reg" >/dev/null 2>"$T/other.err" ||
        setpriv --reuid=nobody --regid=nobody --clear-groups cat "$reg" >/dev/null 2>>"$T/other.err"; then
        fail "user nobody can read the registry"
    fi
    echo "# as nobody: $(head -1 "$T/other.err")"
else
    echo "# setpriv or user nobody missing: mode and owner checked only"
fi
chmod 700 "$T"
secret=$(awk '$1 == "secret" { print $2 }' "$reg")
[ ${#secret} = 16 ] || fail "no secret in the registry"
secret_dec=$(printf '%u' "0x$secret")

# Malformed requests, wrong secrets.
t0=$(date +%s.%N)
"$top_builddir/tests/fs_security_test" >"$T/client.out" 2>&1 || { cat "$T/client.out"; fail "fs_security_test"; }
t1=$(date +%s.%N)
cat "$T/client.out"

# Normal work at debug level, for the logs.
"$FC" mkfiles /d 3 200000 5 -1 >>"$T/client.out" 2>&1 || fail "normal work"
"$FC" verify /d 200000 5 3 >>"$T/client.out" 2>&1 || fail "normal work"

# The preload library: long names and paths, paths leaving the mount.
mkdir -p "$T/host"
LD_PRELOAD="$PRELOAD" ASAN_OPTIONS="$FOREIGN_ASAN_OPTIONS" BENCHFS_MOUNT=/benchfs python3 - "$T" >>"$T/client.out" 2>&1 <<'EOF' || { tail -5 "$T/client.out"; fail "preload paths"; }
import errno, os, sys
T = sys.argv[1]
def expect_errno(what, fn, err):
    try:
        fn()
    except OSError as e:
        assert e.errno == err, "%s: %s, want %s" % (what, e, errno.errorcode[err])
        print("# preload: %s -> %s" % (what, errno.errorcode[e.errno]))
        return
    raise AssertionError("%s: succeeded" % what)
expect_errno("name of 300 bytes", lambda: open("/benchfs/" + "a" * 300, "w"), errno.ENAMETOOLONG)
expect_errno("path of 6000 bytes", lambda: open("/benchfs/" + "d/" * 3000 + "f", "w"),
             errno.ENAMETOOLONG)
expect_errno("mkdir of a 300-byte name", lambda: os.mkdir("/benchfs/" + "b" * 300), errno.ENAMETOOLONG)
host = open("/etc/hostname", "rb").read()
# ".." resolves by the path walked, as in the kernel: through a missing
# directory it is ENOENT, through an existing one it leaves the mount.
expect_errno("missing/../..", lambda: open("/benchfs/x/../../etc/hostname", "rb"), errno.ENOENT)
os.mkdir("/benchfs/x")
for p in ["/benchfs/../etc/hostname", "/benchfs/x/../../etc/hostname",
          "/benchfs/../../../../etc/hostname"]:
    assert open(p, "rb").read() == host, p
    print("# preload: %s is the host's file" % p)
os.mkdir("/benchfs/sub")
os.chdir("/benchfs/sub")
assert open("../../etc/hostname", "rb").read() == host
print("# preload: ../../etc/hostname from /benchfs/sub is the host's file")
# Creating through a path that leaves the mount creates on the host.
with open("/benchfs/../" + T.lstrip("/") + "/host/made", "w") as f:
    f.write("x")
assert os.path.exists(T + "/host/made")
assert "made" not in os.listdir("/benchfs")
print("# preload: a file created through /benchfs/../ is on the host, not in BenchFS")
EOF
grep "^# preload" "$T/client.out"

# The servers still serve, then shut down cleanly.
"$FC" verify /d 200000 5 3 >/dev/null || fail "serving after the malformed requests"
stop_servers || fail "servers did not stop cleanly"

# Each kind of refusal logged, at most once a second per server.
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { s = b - a; printf "%d", s + 2 }')
bad=0
while IFS='|' read -r kind pattern; do
    n=$(grep -cE "$pattern" "$SERVER_LOG")
    max=$(grep -E "$pattern" "$SERVER_LOG" | sed -E 's/^benchfsd\[([0-9]+)\].*/\1/' | sort | uniq -c |
          awk 'BEGIN { m = 0 } $1 > m { m = $1 } END { print m }')
    printf '# logged %-34s %3d lines, at most %d per server (limit %d)\n' "$kind:" "$n" "$max" "$secs"
    if [ "$n" = 0 ]; then echo "FAIL: $kind was not logged"; bad=1; fi
    if [ "$max" -gt "$secs" ]; then echo "FAIL: $kind logged more than once a second"; bad=1; fi
done <<'KINDS'
truncated/oversized header|malformed request for rpc .*Bad message
length over max / mismatch|malformed request for rpc .*Message too long
wrong or missing secret|wrong job secret
unknown rpc id|request for unknown rpc
AM id outside the RPC range|AM id that is no RPC
invalid path (.., NUL, relative)|invalid path \(rpc [0-9]+: Invalid argument
name or path too long|invalid path \(rpc [0-9]+: File name too long
bad entry name|invalid entry name
chunk range|range outside a chunk
lengths that do not add up|lengths that do not add up
KINDS
[ $bad = 0 ] || { cat "$SERVER_LOG"; fail "refusal logging"; }
grep -q "debug:" "$SERVER_LOG" || fail "no debug lines: BENCHFS_LOG=debug had no effect"

# The secret is nowhere.
for f in "$SERVER_LOG" "$T/client.out"; do
    if grep -qiE "$secret|$secret_dec" "$f"; then
        grep -iE "$secret|$secret_dec" "$f" | head -3
        fail "the job secret appears in $(basename "$f")"
    fi
done
echo "# the secret appears in none of $(wc -l <"$SERVER_LOG") server log lines ($(grep -c "debug:" "$SERVER_LOG") at debug level) and $(wc -l <"$T/client.out") client lines"
echo "PASS: security ($(($(date +%s) - t_begin)) s)"
