#!/bin/bash
# The programs users measure file systems with: IOR and mdtest, unchanged,
# through benchfs-run (the preload library; FUSE alone in a row of its own),
# directly on tmpfs and on the servers' backing directory, in one run, REPS
# times; one table of medians with the ratios issue 14 asks for (and JSON).
# IOR/mdtest come from IOR=DIR (holding ior and mdtest), IOR_SRC=DIR (a
# source tree to build), or ../shared/bench/ior-*.tar.gz (built once into
# bench-results/ior-build); without any, a clear message and exit 0.
#   REPS=5 MD_N=10000 MDH_N=5000 EASY_MIB=256 HARD_N=4000
set -u
B=${top_builddir:-$(cd "$(dirname "$0")/../.." && pwd)}
S=${top_srcdir:-$B}
REPS=${REPS:-5}; MD_N=${MD_N:-10000}; MDH_N=${MDH_N:-5000}; EASY_MIB=${EASY_MIB:-256}; HARD_N=${HARD_N:-4000}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_mpi_yield_when_idle=${OMPI_MCA_mpi_yield_when_idle:-1}
OUT="$B/bench-results/ior-mdtest-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"

find_ior() {
    if [ -n "${IOR:-}" ]; then
        [ -x "$IOR/ior" ] && [ -x "$IOR/mdtest" ] && { echo "$IOR"; return 0; }
        echo "IOR=$IOR holds no ior and mdtest" >&2; return 1
    fi
    local src=${IOR_SRC:-} build="$B/bench-results/ior-build"
    if [ -z "$src" ]; then
        [ -x "$build/src/ior" ] && [ -x "$build/src/mdtest" ] && { echo "$build/src"; return 0; }
        local tb
        tb=$(ls "$S"/../shared/bench/ior-*.tar.gz /work/shared/bench/ior-*.tar.gz 2>/dev/null | head -1)
        [ -n "$tb" ] || return 1
        rm -rf "$build"; mkdir -p "$build"
        tar -C "$build" --strip-components=1 -xzf "$tb" || return 1
        src=$build
    fi
    (cd "$src" && { [ -x configure ] || ./bootstrap; } && ./configure -q && make -s -j2) >"$OUT/ior-build.log" 2>&1 ||
        { echo "building IOR in $src failed: $OUT/ior-build.log" >&2; return 1; }
    echo "$src/src"
}
if ! BIN=$(find_ior); then
    echo "bench: IOR and mdtest not found: set IOR=DIR (with ior and mdtest) or IOR_SRC=DIR," \
         "or put ior-*.tar.gz in ../shared/bench; skipping the IOR/mdtest table"
    exit 0
fi
echo "== IOR/mdtest from $BIN, $REPS reps: mdtest -n $MD_N, hard -n $MDH_N, IOR easy $EASY_MIB MiB/rank, hard $HARD_N x 47008 B"

# One script runs every benchmark of a configuration in a directory; it
# prints "RESULT name value" lines (MB/s or ops/s).
cat > "$OUT/suite.sh" <<'SH'
set -u
BIN=$1; D=$2; NP=$3; MD_N=$4; MDH_N=$5; EASY_MIB=$6; HARD_N=$7; WHAT=$8
[ "$D" = @mount ] && D=$BENCHFS_MOUNT/b
MPI="mpirun -np $NP --bind-to none"
md() { # name args...
    local n=$1; shift
    $MPI "$BIN/mdtest" "$@" 2>&1 | awk -v n="$n" '
        /File creation/ { print "RESULT " n "_create " $3 } /File stat/ { print "RESULT " n "_stat " $3 }
        /File read / { print "RESULT " n "_read " $3 } /File removal/ { print "RESULT " n "_remove " $3 }'
}
ior() { # name args...
    local n=$1; shift
    $MPI "$BIN/ior" "$@" 2>&1 | awk -v n="$n" '
        $1 == "write" && NF > 20 { print "RESULT " n "_write " $2 * 1.048576 }
        $1 == "read" && NF > 20 { print "RESULT " n "_read " $2 * 1.048576 }'
}
mkdir -p "$D"
case $WHAT in *md*)
    md mdtest_easy -n "$MD_N" -F -u -d "$D/md-easy"
    md mdtest_hard -n "$MDH_N" -F -w 3901 -e 3901 -d "$D/md-hard" ;;
esac
case $WHAT in *ior*)
    ior ior_easy -a POSIX -t 1m -b "${EASY_MIB}m" -F -w -r -o "$D/ior-easy"
    ior ior_easy_fsync -a POSIX -t 1m -b "${EASY_MIB}m" -F -w -e -o "$D/ior-easy-e"
    ior ior_hard -a POSIX -t 47008 -b 47008 -s "$HARD_N" -w -r -o "$D/ior-hard" ;;
esac
SH
ARGS="$MD_N $MDH_N $EASY_MIB $HARD_N"
TMPROOT=$(mktemp -d /tmp/bfs-iormd.XXXXXX)
trap 'rm -rf "$TMPROOT" /dev/shm/bfs-iormd.$$' EXIT
record() { awk -v l="$1" -v r="$2" '/^RESULT / { printf "{\"label\":\"%s\",\"rep\":%d,\"metric\":\"%s\",\"value\":%s}\n", l, r, $2, $3 }' >> "$OUT/results.jsonl"; }
for rep in $(seq "$REPS"); do
    for cfg in "1 2" "2 2" "2 4"; do
        set -- $cfg
        echo "-- benchfs ${1}s-${2}r (preload), rep $rep"
        "$B/mpi-launch/benchfs-run" --servers "$1" --dir "$TMPROOT/srv" -- \
            bash "$OUT/suite.sh" "$BIN" /benchfs/b "$2" $ARGS mdior | tee -a "$OUT/log" | record "benchfs-${1}s-${2}r" "$rep"
    done
    echo "-- benchfs 1s-2r through FUSE alone, rep $rep"
    "$B/mpi-launch/benchfs-run" --fuse --servers 1 --dir "$TMPROOT/srv" -- \
        env -u LD_PRELOAD bash "$OUT/suite.sh" "$BIN" @mount 2 $ARGS mdior 2>&1 |
        tee -a "$OUT/log" | record "fuse-1s-2r" "$rep"
    echo "-- tmpfs, 2 ranks, rep $rep"
    bash "$OUT/suite.sh" "$BIN" "/dev/shm/bfs-iormd.$$" 2 $ARGS mdior | tee -a "$OUT/log" | record tmpfs-2r "$rep"
    rm -rf "/dev/shm/bfs-iormd.$$"
    echo "-- backing directory ($TMPROOT), 2 ranks, rep $rep"
    bash "$OUT/suite.sh" "$BIN" "$TMPROOT/ref" 2 $ARGS ior | tee -a "$OUT/log" | record backing-2r "$rep"
    rm -rf "$TMPROOT/ref"
done
"$B/rpc/benchfs-rpc-bench" --quick --json > "$OUT/rpc.json" 2>/dev/null || echo '{}' > "$OUT/rpc.json"
README=
[ "${UPDATE_DOCS:-0}" = 1 ] && README="$S/README.md"
python3 - "$OUT" "$REPS" "$README" <<'PY'
import json, statistics, sys, os, time
out, reps, readme = sys.argv[1], sys.argv[2], sys.argv[3]
rows = [json.loads(l) for l in open(os.path.join(out, "results.jsonl"))]
med = {}
for r in rows:
    med.setdefault((r["label"], r["metric"]), []).append(r["value"])
med = {k: statistics.median(v) for k, v in med.items()}
def m(label, metric):
    return med.get((label, metric))
try:
    rpc = json.load(open(os.path.join(out, "rpc.json")))
except Exception:
    rpc = {}
def rpc_bw(direction):
    for t in rpc.get("throughput", []):
        if t.get("dir") == direction and t.get("size") == 1 << 20 and t.get("depth") == 16:
            return t.get("mbps")
    return None
labels = ["benchfs-1s-2r", "benchfs-2s-2r", "benchfs-2s-4r", "fuse-1s-2r", "tmpfs-2r", "backing-2r"]
metrics = sorted({k[1] for k in med})
lines = ["| metric | " + " | ".join(labels) + " |", "|---|" + "---:|" * len(labels)]
for mt in metrics:
    lines.append(f"| {mt} | " + " | ".join(f"{m(l, mt):,.0f}" if m(l, mt) else "-" for l in labels) + " |")
def ratio(a, b):
    return f"{a / b:.2f}" if a and b else "-"
b1 = "benchfs-1s-2r"
targets = [
    ("mdtest -F create vs tmpfs", ratio(m(b1, "mdtest_easy_create"), m("tmpfs-2r", "mdtest_easy_create")), ">= 1.0"),
    ("mdtest -F remove vs tmpfs", ratio(m(b1, "mdtest_easy_remove"), m("tmpfs-2r", "mdtest_easy_remove")), ">= 1.0"),
    ("mdtest -F stat vs tmpfs", ratio(m(b1, "mdtest_easy_stat"), m("tmpfs-2r", "mdtest_easy_stat")), ">= 0.6"),
    ("mdtest-hard create vs tmpfs", ratio(m(b1, "mdtest_hard_create"), m("tmpfs-2r", "mdtest_hard_create")), ">= 0.5"),
    ("mdtest-hard read vs tmpfs", ratio(m(b1, "mdtest_hard_read"), m("tmpfs-2r", "mdtest_hard_read")), ">= 0.5"),
    ("mdtest-hard remove vs tmpfs", ratio(m(b1, "mdtest_hard_remove"), m("tmpfs-2r", "mdtest_hard_remove")), ">= 0.5"),
    ("IOR easy write vs rpc-bench 1 MiB x16", ratio(m(b1, "ior_easy_write"), rpc_bw("write")), ">= 0.5"),
    ("IOR easy read vs rpc-bench 1 MiB x16", ratio(m(b1, "ior_easy_read"), rpc_bw("read")), ">= 0.5"),
    ("IOR easy -e write vs backing dir", ratio(m(b1, "ior_easy_fsync_write"), m("backing-2r", "ior_easy_fsync_write")), ">= 0.8"),
    ("IOR hard write vs backing dir", ratio(m(b1, "ior_hard_write"), m("backing-2r", "ior_hard_write")), ">= 0.5"),
    ("IOR hard read vs backing dir", ratio(m(b1, "ior_hard_read"), m("backing-2r", "ior_hard_read")), ">= 0.5"),
    ("mdtest create 2s-2r vs 1s-2r", ratio(m("benchfs-2s-2r", "mdtest_easy_create"), m(b1, "mdtest_easy_create")), ">= 0.8"),
    ("mdtest create 2s-4r vs 1s-2r", ratio(m("benchfs-2s-4r", "mdtest_easy_create"), m(b1, "mdtest_easy_create")), ">= 0.8"),
    ("IOR easy write 2s-2r vs 1s-2r", ratio(m("benchfs-2s-2r", "ior_easy_write"), m(b1, "ior_easy_write")), ">= 0.8"),
    ("FUSE alone: mdtest create vs preload", ratio(m("fuse-1s-2r", "mdtest_easy_create"), m(b1, "mdtest_easy_create")), "(cost)"),
    ("FUSE alone: IOR easy write vs preload", ratio(m("fuse-1s-2r", "ior_easy_write"), m(b1, "ior_easy_write")), "(cost)"),
]
lines += ["", "| target | ratio | goal |", "|---|---:|---|"] + [f"| {a} | {b} | {c} |" for a, b, c in targets]
table = "\n".join(lines)
print(table)
open(os.path.join(out, "table.md"), "w").write(table + "\n")
json.dump({f"{k[0]}/{k[1]}": v for k, v in med.items()}, open(os.path.join(out, "summary.json"), "w"), indent=1)
print(f"\n(medians in MB/s or ops/s; results in {out})")
if readme:
    # UPDATE_DOCS=1: the README's table is this run's, between its markers.
    text = open(readme).read()
    a, b = "<!-- ior-mdtest-table -->", "<!-- /ior-mdtest-table -->"
    if a in text and b in text:
        head, rest = text.split(a, 1)
        tail = rest.split(b, 1)[1]
        note = (f"\nMedians of {reps} runs (MB/s or ops/s), {time.strftime('%Y-%m-%d')}, "
                "`REPS=%s UPDATE_DOCS=1 make bench`.\n" % reps)
        open(readme, "w").write(head + a + "\n" + table + "\n" + note + b + tail)
        print(f"README table updated: {readme}")
PY
