#!/bin/bash
# Every man page of the tree (*.1 *.3 *.7 *.8) renders without a warning
# (groff -man -ww), is installed by make install (listed in a dist_manN_MANS
# of some local.mk), and names in SEE ALSO only pages that exist here or
# are not BenchFS's.
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
command -v groff >/dev/null || { echo "SKIP: groff is not installed (Debian: groff-base)"; exit 77; }
cd "$top_srcdir" || exit 1
# The project's pages: in a git checkout what git tracks or would track
# (not ignored build output such as bench-results/, where make bench builds
# IOR with pages of its own), else the tree without build directories.
if [ -d .git ] && command -v git >/dev/null; then
    pages=$({ git ls-files '*.[1378]'; git ls-files --others --exclude-standard '*.[1378]'; } | sort -u)
else
    pages=$(find . -path ./autom4te.cache -prune -o -path ./build-aux -prune -o \
        -path ./bench-results -prune -o -type f \( -name '*.[1378]' \) -print | sed 's|^\./||' | sort)
fi
[ -n "$pages" ] || { echo "FAIL: no man pages found"; exit 1; }
rc=0; n=0
mk=$(cat Makefile.am ./*/local.mk ./*/*.mk 2>/dev/null)
for p in $pages; do
    n=$((n + 1))
    w=$(LC_ALL=C.UTF-8 groff -man -ww -z "$p" 2>&1)
    [ -z "$w" ] || { echo "FAIL: $p renders with warnings:"; echo "$w"; rc=1; }
    sect=${p##*.}
    printf '%s\n' "$mk" | grep -E "dist_man${sect}_MANS" | grep -qF "$p" ||
        { echo "FAIL: $p is not in any dist_man${sect}_MANS (make install would skip it)"; rc=1; }
    # SEE ALSO entries that are BenchFS pages must exist in the tree.
    for ref in $(sed -n '/^\.SH "*SEE ALSO/,/^\.SH/p' "$p" | sed -n 's/^\.BR \([^ ]*\) (\([0-9]\)).*/\1.\2/p'); do
        case $ref in
            benchfs*|libbenchfs*)
                printf '%s\n' "$pages" | grep -q "/$ref\$" ||
                    { echo "FAIL: $p: SEE ALSO names $ref, which is not in the tree"; rc=1; } ;;
        esac
    done
done
[ $rc = 0 ] && echo "PASS: $n man pages render without warnings, are installed and cross-reference"
exit $rc
