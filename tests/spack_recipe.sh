#!/bin/bash
# contrib/spack/package.py: valid Python (py_compile; Spack itself is not
# installed, so `from spack.package import *` is not resolved), a class
# Benchfs(AutotoolsPackage), and the configure.ac line that its ~fuse
# variant removes is still there, verbatim (else ~fuse would silently
# build benchfs-fuse).
set -u
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }
P="$top_srcdir/contrib/spack/package.py"
T=$(mktemp -d "${TMPDIR:-/tmp}/benchfs-spack.XXXXXX")
trap 'rm -rf "$T"' EXIT
python3 -c 'import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)' \
    "$P" "$T/package.pyc" || { echo "FAIL: $P does not compile"; exit 1; }
python3 - "$P" "$top_srcdir/configure.ac" <<'PY' || exit 1
import ast, sys
tree = ast.parse(open(sys.argv[1]).read())
cls = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Benchfs"]
if not cls or not any(getattr(b, "id", None) == "AutotoolsPackage" for b in cls[0].bases):
    sys.exit("FAIL: no class Benchfs(AutotoolsPackage)")
fuse = [n.value.value for n in cls[0].body if isinstance(n, ast.Assign)
        and any(getattr(t, "id", None) == "fuse_check" for t in n.targets)]
calls = {n.args[0].value for n in ast.walk(cls[0]) if isinstance(n, ast.Call)
         and getattr(n.func, "id", None) == "depends_on" and n.args
         and isinstance(n.args[0], ast.Constant)}
for want in ("ucx@1.12:", "liburing@2.0:", "pmix@3:", "lmdb", "libfuse@3.2:", "openmpi",
             "autoconf", "automake", "libtool", "pkgconfig"):
    if want not in calls:
        sys.exit("FAIL: no depends_on(%r)" % want)
if not fuse or fuse[0] not in open(sys.argv[2]).read():
    sys.exit("FAIL: the fuse check the recipe removes for ~fuse is not in configure.ac: %r" % fuse)
conf = open(sys.argv[2]).read()
if "--enable-sanitizers" not in conf and "[sanitizers]" not in conf:
    sys.exit("FAIL: configure.ac has no --enable-sanitizers for the sanitizers variant")
PY
echo "PASS: contrib/spack/package.py compiles and matches configure.ac"
