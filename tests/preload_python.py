# Run by preload_python.sh under LD_PRELOAD=libbenchfs.so: plain Python file
# operations on BenchFS, each checked.
import hashlib, os, shutil, sys

M = os.environ.get("BENCHFS_MOUNT", "/benchfs")
SRC = sys.argv[1]            # a local tree to copy in
root = os.path.join(M, "py")
os.mkdir(root)
p = os.path.join(root, "a.bin")
data = os.urandom(3 * 65536 + 123)
with open(p, "wb") as f:
    assert f.write(data) == len(data)
with open(p, "rb") as f:
    assert f.read() == data
    f.seek(65530)
    assert f.read(20) == data[65530:65550]
    f.seek(-10, os.SEEK_END)
    assert f.read() == data[-10:]
with open(p, "r+b") as f:
    f.seek(100)
    f.write(b"XYZ")
with open(p, "rb") as f:
    assert f.read(103)[100:] == b"XYZ"
with open(os.path.join(root, "t.txt"), "w") as f:
    for i in range(1000):
        print("line", i, file=f)
with open(os.path.join(root, "t.txt")) as f:
    lines = f.readlines()
assert len(lines) == 1000 and lines[999] == "line 999\n", lines[-1]
st = os.stat(p)
assert st.st_size == len(data), st
assert os.path.isfile(p) and os.path.isdir(root) and not os.path.exists(p + ".no")
assert sorted(os.listdir(root)) == ["a.bin", "t.txt"], os.listdir(root)
os.rename(p, os.path.join(root, "b.bin"))
assert sorted(os.listdir(root)) == ["b.bin", "t.txt"]
shutil.copytree(SRC, os.path.join(root, "tree"))
def digest(top):
    out = {}
    for d, _, files in os.walk(top):
        for n in files:
            full = os.path.join(d, n)
            with open(full, "rb") as f:
                out[os.path.relpath(full, top)] = hashlib.sha256(f.read()).hexdigest()
    return out
a, b = digest(SRC), digest(os.path.join(root, "tree"))
assert a == b and len(a) > 10, (len(a), len(b))
shutil.rmtree(root)
assert not os.path.exists(root)
try:
    open(os.path.join(M, "missing", "x"))
    raise SystemExit("opening a missing file succeeded")
except FileNotFoundError:
    pass
print("python on BenchFS: ok")
