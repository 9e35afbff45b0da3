#!/usr/bin/env python3
"""Write the seed corpora of the fuzz targets (tests/fuzz/corpus/TARGET/):
a few real inputs each, in the exact wire formats of rpc/rpc_wire.h,
common/proto.h and common/registry.h. Run from anywhere; rewrites the
generated files (the registry seeds real-*.txt are kept as they are)."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
MAGIC, VERSION, REQ, REPLY = 0xBF5A, 1, 1, 2
GROW, DIRENT, SIZE, BYFID = 0x4, 0x1, 0x8, 0x10


def hdr(offset=0, length=0, flags=0, req_id=(1 << 32) | 7, arg0=0, arg1=0, rcap=0,
        secret=0x0677BC4F9E32FEB1, status=0, arg2=0, kind=REQ, reserved=0, pad=0):
    return struct.pack("<QQIIQQQQQiIHBBI", offset, length, flags, reserved, req_id, arg0, arg1,
                       rcap, secret, status, arg2, MAGIC, VERSION, kind, pad)


def inode(fid=(1 << 48) | 5, size=12345, mode=0o100644, uid=0, gid=0, nlink=1,
          t=1700000000_000000000):
    return struct.pack("<QQIIIIqqq", fid, size, mode, uid, gid, nlink, t, t, t)


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


assert len(hdr()) == 80 and len(inode()) == 56

# rpc_hdr: [u64 AM data length][kind byte][header]
for name, data_len, kind, h in [
    ("stat-request", 9, 0, hdr(length=9, rcap=56)),
    ("write-request-64k", 65536 + 4, 0, hdr(length=65536 + 4, arg2=4, flags=GROW, arg0=9, arg1=3)),
    ("reply-inode", 56, 1, hdr(length=56, kind=REPLY, secret=0)),
    ("reply-error", 0, 1, hdr(kind=REPLY, secret=0, status=-2)),
    ("short-header", 0, 0, hdr()[:30]),
]:
    write("rpc_hdr", name, struct.pack("<Q", data_len) + bytes([kind]) + h)

# path: [capacity selector][path]
for i, p in enumerate([b"/", b"/a/b/c", b"/dir/./x//y/../z", b"relative/path", b"/a/" + b"n" * 255,
                       b"/../../etc/passwd", b"/a\x00b"]):
    write("path", "p%d" % i, bytes([7]) + p)

# registry: a generated 3-server file and a short one with a comment.
addr = bytes(range(40)).hex()
write("registry", "three-servers.txt",
      ("benchfs-registry 1\nservers 3\nchunk_size 1048576\nsecret 00000000deadbeef\n"
       + "".join("server %d %s\n" % (i, addr) for i in range(3))).encode())
write("registry", "unknown-key.txt",
      b"# comment\nbenchfs-registry 1\nservers 1\nfuture_key 7\nchunk_size 4096\n"
      b"secret 1\nserver 0 0a0b0c0d0e0f1011\n")

# dirpage: [cursor length][cursor][entries: u8 type, u16 le length, name]
def ent(t, name):
    return struct.pack("<BH", t, len(name)) + name

write("dirpage", "first-page", b"\x00" + ent(4, b"a") + ent(8, b"b.txt") + ent(8, b"c" * 40))
write("dirpage", "next-page", b"\x05" + b"file9" + ent(8, b"fileA") + ent(4, b"zdir"))
write("dirpage", "empty", b"\x00")

# fs decoders: [80-byte header][payload], as the client sends them.
inode_b = inode()
write("fs_path", "stat", hdr(length=6, rcap=56) + b"/a/b/c"[:6])
write("fs_path", "create-root-child", hdr(length=2, flags=DIRENT, arg0=0o100644, rcap=56) + b"/f")
write("fs_path", "bad-dotdot", hdr(length=9) + b"/a/../etc")
write("fs_put", "rename-target", hdr(length=5 + 56, arg2=5, flags=DIRENT, rcap=56) + b"/x/yz" + inode_b)
write("fs_put", "root", hdr(length=1 + 56, arg2=1) + b"/" + inode_b)
write("fs_dirent", "add", hdr(length=4 + 5, arg2=4, arg0=8) + b"/dir" + b"file1")
write("fs_dirent", "del-in-root", hdr(length=1 + 3, arg2=1) + b"/" + b"sub")
write("fs_readdir", "first-page", hdr(length=4, arg2=4, rcap=65536) + b"/dir")
write("fs_readdir", "next-page", hdr(length=4 + 6, arg2=4, rcap=65536) + b"/dir" + b"file42")
write("fs_write", "grow", hdr(length=6 + 100, arg2=6, flags=GROW, arg0=(1 << 48) | 2, arg1=0,
                             offset=100, pad=4) + b"/a/b/c" + bytes(100))
write("fs_write", "plain", hdr(length=4096, arg0=(1 << 48) | 2, arg1=5, pad=4, rcap=0)
      + bytes(range(256)) * 16)
write("fs_write", "read-size", hdr(offset=0, rcap=4096, flags=SIZE, arg0=(1 << 48) | 2, pad=4))
write("fs_target", "by-fid", hdr(length=8, flags=BYFID, rcap=56) + struct.pack("<Q", (2 << 48) | 9))
write("fs_target", "by-path", hdr(length=4, rcap=56) + b"/dir")
write("fs_target", "short-fid", hdr(length=7, flags=BYFID) + b"\x01" * 7)
write("fs_rename", "file", hdr(length=6 + 7, arg2=6, rcap=56) + b"/d/old" + b"/e/new1")
write("fs_rename", "root", hdr(length=1 + 2, arg2=1) + b"/" + b"/x")
write("fs_write", "read-range", hdr(offset=65536 - 10, rcap=10, pad=4))
