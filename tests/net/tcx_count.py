#!/usr/bin/env python3
"""A tcx program that counts every packet it sees and returns TCX_NEXT.

Attached after the others on an interface's tcx ingress chain, it shows
which packets the programs before it let go on. Loaded through the bpf()
system call (no object file, no libbpf), its link and count map pinned:

  tcx_count.py attach NETNS IFNAME PIN   attach; pins PIN_link and PIN_map
  tcx_count.py count PIN                 print the count
The caller removes the pins (the link goes with its interface).
"""
import ctypes
import os
import socket
import struct
import sys

SYS_BPF = 321  # x86_64
BPF_MAP_LOOKUP_ELEM, BPF_MAP_CREATE, BPF_PROG_LOAD = 1, 0, 5
BPF_OBJ_PIN, BPF_OBJ_GET, BPF_LINK_CREATE = 6, 7, 28
BPF_MAP_TYPE_ARRAY, BPF_PROG_TYPE_SCHED_CLS = 2, 3
BPF_TCX_INGRESS = 46
CLONE_NEWNET = 0x40000000

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def bpf(cmd, attr):
    buf = ctypes.create_string_buffer(bytes(attr), len(attr))
    ret = libc.syscall(SYS_BPF, cmd, buf, len(attr))
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, "bpf(%d): %s" % (cmd, os.strerror(err)))
    return ret, buf


def insn(code, dst=0, src=0, off=0, imm=0):
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def prog(map_fd):
    return b"".join([
        insn(0x62, dst=10, off=-4, imm=0),  # *(u32 *)(r10 - 4) = 0
        insn(0xbf, dst=2, src=10),  # r2 = r10
        insn(0x07, dst=2, imm=-4),  # r2 += -4
        insn(0x18, dst=1, src=1, imm=map_fd),  # r1 = map (pseudo fd)
        insn(0x00),
        insn(0x85, imm=1),  # call bpf_map_lookup_elem
        insn(0x15, dst=0, off=2, imm=0),  # if r0 == 0 goto +2
        insn(0xb7, dst=1, imm=1),  # r1 = 1
        insn(0xdb, dst=0, src=1),  # lock *(u64 *)(r0 + 0) += r1
        insn(0xb7, dst=0, imm=-1),  # r0 = TCX_NEXT
        insn(0x95),  # exit
    ])


def pin(fd, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    p = ctypes.create_string_buffer(path.encode())
    bpf(BPF_OBJ_PIN, struct.pack("<QII", ctypes.addressof(p), fd, 0))


def setns(path):
    fd = os.open(path, os.O_RDONLY)
    if libc.setns(fd, CLONE_NEWNET):
        raise OSError(ctypes.get_errno(), "setns " + path)
    os.close(fd)


def attach(netns, ifname, pinpath):
    setns("/run/netns/" + netns)
    ifindex = socket.if_nametoindex(ifname)
    map_fd, _ = bpf(BPF_MAP_CREATE,
                    struct.pack("<5I", BPF_MAP_TYPE_ARRAY, 4, 8, 1, 0))
    code = prog(map_fd)
    insns = ctypes.create_string_buffer(code, len(code))
    lic = ctypes.create_string_buffer(b"GPL")
    log = ctypes.create_string_buffer(65536)
    attr = struct.pack("<IIQQIIQ", BPF_PROG_TYPE_SCHED_CLS, len(code) // 8,
                       ctypes.addressof(insns), ctypes.addressof(lic), 1,
                       len(log), ctypes.addressof(log))
    try:
        prog_fd, _ = bpf(BPF_PROG_LOAD, attr)
    except OSError:
        sys.stderr.write(log.value.decode(errors="replace"))
        raise
    # no BPF_F_BEFORE/AFTER: appended, after every program already there
    link_fd, _ = bpf(BPF_LINK_CREATE,
                     struct.pack("<4I", prog_fd, ifindex, BPF_TCX_INGRESS, 0))
    pin(map_fd, pinpath + "_map")
    pin(link_fd, pinpath + "_link")


def count(pinpath):
    p = ctypes.create_string_buffer(pinpath.encode() + b"_map")
    map_fd, _ = bpf(BPF_OBJ_GET, struct.pack("<QII", ctypes.addressof(p), 0, 0))
    key = ctypes.c_uint32(0)
    val = ctypes.c_uint64(0)
    bpf(BPF_MAP_LOOKUP_ELEM,
        struct.pack("<IIQQQ", map_fd, 0, ctypes.addressof(key),
                    ctypes.addressof(val), 0))
    print(val.value)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "attach":
        attach(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) == 3 and sys.argv[1] == "count":
        count(sys.argv[2])
    else:
        sys.exit(__doc__)
