#!/bin/bash
# make bench: staging speed. The same tree (STAGE_FILES small files of
# 1 MiB and 4 large ones of STAGE_LARGE_MB MiB) copied
#   local -> local   with cp -r on the backing directory's file system,
#   stage-in         benchfs cp -r local -> BenchFS (what --stage-in runs),
#   stage-out        benchfs cp -r BenchFS -> local (what --stage-out runs),
# inside one benchfs-run job (one server, default chunks), medians of
# STAGE_REPS runs, and the ratio local time / staging time (issue 15: the
# goal is >= 0.7). Prints a table; JSON in $OUT/stage.json when OUT is set.
set -u
: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
FILES=${STAGE_FILES:-256}
LARGE=${STAGE_LARGE_MB:-64}
REPS=${STAGE_REPS:-3}
W=$(mktemp -d "${TMPDIR:-/tmp}/benchfs-stage.XXXXXX")
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/src/small" "$W/src/large"
for i in $(seq "$FILES"); do head -c 1048576 /dev/urandom >"$W/src/small/f$i"; done
for i in 1 2 3 4; do head -c $((LARGE << 20)) /dev/urandom >"$W/src/large/L$i"; done
total_mb=$((FILES + 4 * LARGE))
cat >"$W/job.sh" <<'EOF'
set -u
W=$1 REPS=$2 TOOL=$3
t() { local s=$(date +%s.%N); "$@" >/dev/null 2>&1 || { echo "FAILED: $*" >&2; exit 1; }; awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN { print b - a }'; }
for r in $(seq "$REPS"); do
    sync
    l=$(t cp -r "$W/src" "$W/local.$r")
    i=$(t env -u LD_PRELOAD "$TOOL" cp -r "$W/src" "$BENCHFS_MOUNT/in.$r")
    o=$(t env -u LD_PRELOAD "$TOOL" cp -r "$BENCHFS_MOUNT/in.$r" "$W/out.$r")
    diff -r "$W/src" "$W/out.$r" >/dev/null || { echo "FAILED: staged tree differs" >&2; exit 1; }
    rm -rf "$W/local.$r" "$W/out.$r"
    env -u LD_PRELOAD "$TOOL" rm -r "$BENCHFS_MOUNT/in.$r" >/dev/null
    echo "$l $i $o"
done
EOF
"$top_builddir/mpi-launch/benchfs-run" --no-fuse --dir "$W/dir" --registry "$W/reg" --mount /benchfs-stage-$$ \
    -- bash "$W/job.sh" "$W" "$REPS" "$top_builddir/mpi-launch/benchfs" >"$W/times" 2>"$W/err" ||
    { cat "$W/err"; echo "stage benchmark failed"; exit 1; }
med() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
L=$(awk '{ print $1 }' "$W/times" | med)
I=$(awk '{ print $2 }' "$W/times" | med)
O=$(awk '{ print $3 }' "$W/times" | med)
echo
echo "Staging: $FILES x 1 MiB + 4 x $LARGE MiB ($total_mb MiB), medians of $REPS, one server, backing dir on $(df --output=fstype "$W" | tail -1)"
echo
printf '| %-28s | %8s | %9s | %14s |\n' "copy" "seconds" "MB/s" "local / this"
printf '|%s|%s|%s|%s|\n' "------------------------------" "----------" "-----------" "----------------"
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
row() { printf '| %-28s | %8.2f | %9.0f | %14s |\n' "$1" "$2" "$(div "$((total_mb * 1048576 / 1000000))" "$2")" "$3"; }
row "local cp -r (reference)" "$L" "1.00"
row "stage-in (benchfs cp -r)" "$I" "$(div "$L" "$I")"
row "stage-out (benchfs cp -r)" "$O" "$(div "$L" "$O")"
if [ -n "${OUT:-}" ]; then
    mkdir -p "$OUT"
    printf '{"files": %d, "large_mb": %d, "reps": %d, "local_s": %s, "stage_in_s": %s, "stage_out_s": %s}\n' \
        "$FILES" "$LARGE" "$REPS" "$L" "$I" "$O" >"$OUT/stage.json"
fi
