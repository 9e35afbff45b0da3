#!/bin/bash
# benchfs-run's exit status and its failures: COMMAND's status comes back
# (0, 3, 127 for a missing program); servers that cannot start give a clear
# error, status 125, COMMAND not run, and no process, registry or directory
# left behind; bad options and stage specs fail before any server starts.
. "$(dirname "$0")/run_lib.sh"

# run EXPECTED ARGS...: benchfs-run in the background (so the trap can stop
# it), bounded, its status compared with EXPECTED.
run() {
    local want=$1; shift
    timeout 120 "$BFSRUN" --servers 2 --dir "$T/dir" --registry "$T/reg" "$@" >"$T/out" 2>"$T/err" &
    RUN_PIDS+=($!)
    wait $!; got=$?
    [ "$got" = "$want" ] || { cat "$T/out" "$T/err"; fail "benchfs-run $*: exit $got, expected $want"; }
    [ ! -e "$T/reg" ] || fail "registry left behind by: $*"
    [ ! -e "$T/dir" ] || fail "directory left behind by: $*"
    ! compgen -G "$T/benchfs-run.*" >/dev/null || fail "temporary directory left behind by: $*"
    [ -z "$(procs_with "$T/")" ] || fail "processes left behind by: $*: $(procs_with "$T/")"
}

run 0 -- true
run 3 -- sh -c 'exit 3'
run 3 -- sh -c 'test -d /benchfs && echo x > /benchfs/f && exit 3'
run 127 -- /nonexistent/program
run 0 -- sh -c '[ "$(cat /benchfs/nothing 2>/dev/null)" = "" ] && [ -n "$BENCHFS_REGISTRY" ]'
# A custom mount point reaches the preload library.
run 0 --mount /scratch/bfs -- sh -c 'echo data > /scratch/bfs/f && [ "$(cat /scratch/bfs/f)" = data ]'
# The default registry lives in the working directory and is removed.
(cd "$T" && timeout 120 "$BFSRUN" --servers 1 --dir "$T/dir" -- sh -c 'ls "$PWD"/.benchfs-registry-*' \
    >"$T/out" 2>&1) || { cat "$T/out"; fail "default registry in \$PWD"; }
! compgen -G "$T/.benchfs-registry-*" >/dev/null || fail "default registry left behind"

# Servers that cannot start: --dir below a regular file.
echo "not a directory" >"$T/file"
timeout 120 "$BFSRUN" -v --servers 2 --dir "$T/file/sub" --registry "$T/reg" --timeout 30 -- \
    sh -c "touch $T/ran" >"$T/out" 2>"$T/err" &
RUN_PIDS+=($!)
wait $!; rc=$?
cat "$T/err"
[ $rc = 125 ] || fail "failed start-up: exit $rc, expected 125"
[ ! -e "$T/ran" ] || fail "COMMAND ran although the servers failed"
grep -q "error: the servers exited during start-up" "$T/err" || fail "no clear error"
grep -q "cannot create $T/file/sub" "$T/err" || fail "the servers' log is not shown"
mpid=$(sed -n "s/.*servers' mpirun has pid \([0-9]*\).*/\1/p" "$T/err")
[ -n "$mpid" ] || fail "no mpirun pid in the -v output"
! alive "$mpid" || fail "the servers' mpirun $mpid is still running"
[ ! -e "$T/reg" ] || fail "registry left behind after a failed start"
[ -z "$(procs_with "$T/")" ] || fail "processes left behind after a failed start"
! compgen -G "$T/benchfs-run.*" >/dev/null || fail "temporary directory left behind after a failed start"
[ "$(cat "$T/file")" = "not a directory" ] || fail "the regular file was touched"

# Mistakes caught before any server starts.
for bad in "--servers 0" "--servers x" "--timeout 0" "--stage-in nocolon" \
           "--stage-in $T/missing:/benchfs/in" "--stage-out /elsewhere:$T/out" "--bogus"; do
    # shellcheck disable=SC2086
    timeout 30 "$BFSRUN" $bad --dir "$T/dir" --registry "$T/reg" -- true >"$T/out" 2>&1
    rc=$?
    [ $rc = 125 ] || { cat "$T/out"; fail "'$bad': exit $rc, expected 125"; }
    grep -q "benchfs-run: error" "$T/out" || { cat "$T/out"; fail "'$bad': no error message"; }
done
timeout 30 "$BFSRUN" --dir "$T/dir" --registry "$T/reg" >"$T/out" 2>&1
[ $? = 125 ] && grep -q "no COMMAND" "$T/out" || fail "missing COMMAND not reported"
echo x >"$T/reg"
timeout 30 "$BFSRUN" --dir "$T/dir" --registry "$T/reg" -- true >"$T/out" 2>&1
[ $? = 125 ] && grep -q "exists" "$T/out" || fail "an existing registry is not refused"
[ "$(cat "$T/reg")" = x ] || fail "an existing registry was overwritten"
rm -f "$T/reg"
"$BFSRUN" --help | grep -q -- "--stage-in" || fail "--help"
[ -z "$(procs_with "$T/")" ] || fail "processes left behind"
echo "PASS: benchfs-run exit status and failures"
