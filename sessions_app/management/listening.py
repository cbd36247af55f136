"""What both of runmcp's servers share: open files, a listener that drains, and the 408 they answer.

Drain stops new connections first: new SYNs are dropped (a socket filter, Linux), the handshakes under
way complete and are accepted, then the socket closes, so no connection that reached the node is reset.
"""

from __future__ import annotations

import ctypes
import logging
import resource
import socket
import struct

logger = logging.getLogger(__name__)

# Between dropping new SYNs and closing the listening socket: time for handshakes under way to complete.
LISTENER_SETTLE_SECONDS = 0.2
# What a request too slow to arrive gets (MCP_HEADER_TIMEOUT, MCP_BODY_TIMEOUT), before the connection closes.
REQUEST_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
SO_ATTACH_FILTER = 26
# Classic BPF on a TCP socket sees the TCP header: drop a segment with SYN and without ACK (a new
# connection), keep everything else (the handshakes under way complete).
DROP_NEW_SYNS = [
    (0x30, 0, 0, 13),  # ldb [13]: the flags
    (0x54, 0, 0, 0x12),  # and #(SYN|ACK)
    (0x15, 0, 1, 0x02),  # jeq #SYN: drop, else accept
    (0x06, 0, 0, 0),  # ret #0: drop
    (0x06, 0, 0, 0xFFFFFFFF),  # ret #-1: accept
]


def raise_open_files_limit() -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE to the hard limit; (before, after)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            logger.warning("could not raise the open files limit from %d to %d: %s", soft, target, exc)
            return soft, soft
        return soft, target
    return soft, soft


def refuse_new_connections(sock: socket.socket) -> bool:
    """Drop new SYNs on a listening socket (Linux); connections being made still complete."""
    code = b"".join(struct.pack("HBBI", *instruction) for instruction in DROP_NEW_SYNS)
    buffer = ctypes.create_string_buffer(code)
    fprog = struct.pack("HL", len(DROP_NEW_SYNS), ctypes.addressof(buffer))
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
        return True
    except OSError as exc:  # not Linux: the accept-then-close after it still leaves only a tiny window
        logger.info("could not filter new connections while draining: %s", exc)
        return False
