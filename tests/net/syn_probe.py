#!/usr/bin/python3
"""SYNs of odd shapes, sent with scapy on a client veth, and what came back.

  syn_probe.py IFACE DST_MAC CLI4 VIP4 CLI6 VIP6

Sends each probe below once (frames built here, sent with sendp), listens
on IFACE (AF_PACKET) for 1.5 s, and prints one line per probe:
  NAME none                        no answer from the VIP
  NAME synack ip_hdr=N             a SYN-ACK; N bytes of IP header and
                                   extension headers before TCP
  NAME other FLAGS                 something else (an RST, say)
Run in the client namespace, on the CPU whose flood mode the caller set.
"""
import random
import socket
import sys
import time

from scapy.all import (  # python3-scapy
    IP, TCP, Ether, IPOption_Router_Alert, IPv6, IPv6ExtHdrDestOpt, Raw,
    fragment, sendp)

iface, dmac, cli4, vip4, cli6, vip6 = sys.argv[1:7]
smac = open("/sys/class/net/%s/address" % iface).read().strip()
base = random.randrange(20000, 30000)


def syn(n, **kw):
    return TCP(sport=base + n, dport=443, seq=random.getrandbits(32),
               flags=kw.pop("flags", "S"), options=[("MSS", 1460)], **kw)


def eth(dst=None):
    return Ether(src=smac, dst=dst or dmac)


probes = [  # name, frames
    ("plain_v4", [eth() / IP(src=cli4, dst=vip4) / syn(0)]),
    ("router_alert_v4",
     [eth() / IP(src=cli4, dst=vip4, options=[IPOption_Router_Alert()]) /
      syn(1)]),
    ("dest_opts_v6",
     [eth() / IPv6(src=cli6, dst=vip6) / IPv6ExtHdrDestOpt() / syn(2)]),
    # a whole SYN (with 12 bytes of data) in two fragments: the first has
    # the TCP header and MF
    ("fragmented_v4",
     [eth() / f for f in fragment(
         IP(src=cli4, dst=vip4) / syn(3) / Raw(b"x" * 12), fragsize=24)]),
    ("broadcast_mac_v4",
     [eth("ff:ff:ff:ff:ff:ff") / IP(src=cli4, dst=vip4) / syn(4)]),
    ("syn_fin_v4", [eth() / IP(src=cli4, dst=vip4) / syn(5, flags="SF")]),
    ("bad_csum_v4",
     [eth() / IP(src=cli4, dst=vip4) / syn(6, chksum=0x1234)]),
]

rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
rx.bind((iface, 0))
rx.settimeout(0.1)
for _, frames in probes:
    sendp(frames, iface=iface, verbose=0)

seen = {}
end = time.time() + 1.5
while time.time() < end:
    try:
        data, addr = rx.recvfrom(65535)
    except socket.timeout:
        continue
    if addr[2] == socket.PACKET_OUTGOING:
        continue
    f = Ether(data)
    if TCP not in f or f[TCP].sport != 443:
        continue
    n = f[TCP].dport - base
    if not 0 <= n < len(probes) or n in seen:
        continue
    l3 = f.payload
    hdr = len(l3) - len(f[TCP])
    if f[TCP].flags == "SA":
        seen[n] = "synack ip_hdr=%d" % hdr
    else:
        seen[n] = "other %s" % f[TCP].flags

for n, (name, _) in enumerate(probes):
    print(name, seen.get(n, "none"))
