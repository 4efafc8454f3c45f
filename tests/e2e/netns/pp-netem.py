#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# pp-netem.py: a stand-in for `tc qdisc ... netem delay D loss L` where the kernel has no
# sch_netem (this VM's kernel has none).  Run inside a router namespace; iptables sends the
# packets to NFQUEUE QUEUE and this process holds each one for DELAY ms, then accepts it, or
# drops it with probability LOSS %.  It speaks nfnetlink_queue directly (no library), asks
# only for packet ids (copy mode META), keeps order, and never touches other namespaces.
#
#   pp-netem.py QUEUE DELAY_MS LOSS_PERCENT [SEED]
#
# Prints "ready" on stdout once bound; SIGTERM ends it (iptables rules are the caller's).
# The NFQUEUE rules should use --queue-bypass so packets pass if this process is gone.
import heapq
import os
import random
import select
import signal
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET = 0
NFQNL_MSG_VERDICT = 1
NFQNL_MSG_CONFIG = 2
NFQA_CFG_CMD = 1
NFQA_CFG_PARAMS = 2
NFQA_CFG_QUEUE_MAXLEN = 3
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NF_DROP, NF_ACCEPT = 0, 1
NLM_F_REQUEST = 1
NLMSG_ERROR = 2
SO_RCVBUFFORCE = 33


def attr(kind, payload):
    n = 4 + len(payload)
    return struct.pack("=HH", n, kind) + payload + b"\0" * ((4 - n % 4) % 4)


def message(msg_type, queue, attrs, seq):
    body = struct.pack("=BBH", socket.AF_UNSPEC, 0, socket.htons(queue)) + b"".join(attrs)
    kind = (NFNL_SUBSYS_QUEUE << 8) | msg_type
    return struct.pack("=IHHII", 16 + len(body), kind, NLM_F_REQUEST, seq, 0) + body


def packet_ids(data):
    """Yields the packet id of every NFQNL_MSG_PACKET in one netlink datagram."""
    off = 0
    while off + 16 <= len(data):
        length, kind = struct.unpack_from("=IH", data, off)
        if length < 16 or off + length > len(data):
            return
        if kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
            a = off + 20
            while a + 4 <= off + length:
                alen, atype = struct.unpack_from("=HH", data, a)
                if alen < 4:
                    break
                if (atype & 0x7FFF) == NFQA_PACKET_HDR:
                    yield struct.unpack_from("!I", data, a + 4)[0]
                a += (alen + 3) & ~3
        off += (length + 3) & ~3


def main():
    queue, delay_ms, loss = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
    rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else None)
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 16 << 20)
    sock.bind((0, 0))
    seq = 1
    cmd = struct.pack("!BxH", NFQNL_CFG_CMD_BIND, 0)
    sock.send(message(NFQNL_MSG_CONFIG, queue, [attr(NFQA_CFG_CMD, cmd)], seq))
    params = struct.pack("!IB", 0, NFQNL_COPY_META)
    maxlen = struct.pack("!I", 65536)
    sock.send(message(NFQNL_MSG_CONFIG, queue, [attr(NFQA_CFG_PARAMS, params),
                                                 attr(NFQA_CFG_QUEUE_MAXLEN, maxlen)], seq + 1))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("ready", flush=True)
    held = []  # (due, order, id): a heap, order keeps FIFO among equal due times
    order = 0
    delay = delay_ms / 1000.0
    sock.setblocking(False)
    while True:
        now = time.monotonic()
        while held and held[0][0] <= now:
            _, _, pid = heapq.heappop(held)
            verdict = attr(NFQA_VERDICT_HDR, struct.pack("!II", NF_ACCEPT, pid))
            sock.send(message(NFQNL_MSG_VERDICT, queue, [verdict], 0))
        timeout = max(0.0, held[0][0] - now) if held else 1.0
        readable, _, _ = select.select([sock], [], [], timeout)
        if not readable:
            continue
        for _ in range(256):
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                break
            except OSError:  # ENOBUFS: the kernel dropped some; go on
                break
            arrived = time.monotonic()
            for pid in packet_ids(data):
                if loss > 0 and rng.random() * 100.0 < loss:
                    verdict = attr(NFQA_VERDICT_HDR, struct.pack("!II", NF_DROP, pid))
                    sock.send(message(NFQNL_MSG_VERDICT, queue, [verdict], 0))
                    continue
                order += 1
                heapq.heappush(held, (arrived + delay, order, pid))


if __name__ == "__main__":
    main()
