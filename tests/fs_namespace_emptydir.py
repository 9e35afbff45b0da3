"""Readdir of an empty directory through the preload: mkdir, os.listdir
(opendir + readdir, which must end with NULL and errno untouched: Python
raises on a non-zero errno), os.scandir, rmdir, N rounds in directory D.
Exits non-zero with the first error. Used by tests/fs_namespace.sh."""
import os
import sys

base, rounds = sys.argv[1], int(sys.argv[2])
bad = 0
for r in range(rounds):
    p = os.path.join(base, "r%d" % r)
    try:
        os.mkdir(p)
        if os.listdir(p) != []:
            raise RuntimeError("entries in an empty directory")
        with os.scandir(p) as it:
            if list(it):
                raise RuntimeError("scandir lists entries in an empty directory")
        os.rmdir(p)
    except Exception as e:  # report and go on: how often it fails matters
        bad += 1
        if bad <= 3:
            print("FAIL round %d %s: %r" % (r, p, e), file=sys.stderr)
        try:
            os.rmdir(p)
        except OSError:
            pass
if bad:
    print("FAIL %s: %d of %d rounds" % (base, bad, rounds), file=sys.stderr)
sys.exit(1 if bad else 0)
