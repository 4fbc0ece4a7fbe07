"""Framing between the parent, a zygote and a candidate's process: JSON header, raw bytes, never pickle.

A message is ``<u32 json length><u64 blob length><json><blob>``. The parent reads a worker's
messages as untrusted bytes: it bounds both lengths and never evaluates what it reads.
"""

from __future__ import annotations

import json
import os
import select
import struct
import time
from typing import Any

HEADER = struct.Struct("<IQ")
MAX_JSON = 1 << 20


class ProtocolError(Exception):
    """The peer sent something that is not a well-formed message."""


class PeerClosed(ProtocolError):
    """The peer closed its end of the pipe."""


class Timeout(Exception):
    """The deadline passed before a whole message arrived."""


def encode(meta: dict[str, Any], blob: bytes = b"") -> bytes:
    """Return one framed message."""
    head = json.dumps(meta, separators=(",", ":")).encode()
    return HEADER.pack(len(head), len(blob)) + head + blob


def decode(data: bytes, max_blob: int = 1 << 34) -> tuple[dict[str, Any], bytes]:
    """Decode bytes that must hold exactly one message; raise ProtocolError otherwise."""
    if len(data) < HEADER.size:
        raise ProtocolError(f"{len(data)} bytes, shorter than a message header")
    jlen, blen = HEADER.unpack_from(data)
    if jlen > MAX_JSON or blen > max_blob:
        raise ProtocolError(f"message too large ({jlen} + {blen} bytes)")
    if len(data) != HEADER.size + jlen + blen:
        raise ProtocolError(f"{len(data)} bytes where one message of {HEADER.size + jlen + blen} was due")
    return _header(data[HEADER.size:HEADER.size + jlen]), data[HEADER.size + jlen:]


def _header(raw: bytes) -> dict[str, Any]:
    try:
        meta = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ProtocolError(f"malformed header: {e}") from None
    if not isinstance(meta, dict):
        raise ProtocolError("malformed header: not an object")
    return meta


def _wait(fd: int, events: int, deadline: float | None) -> None:
    poller = select.poll()
    poller.register(fd, events)
    while True:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        if poller.poll(None if left is None else int(left * 1000) + 1):
            return
        if deadline is not None and time.monotonic() >= deadline:
            raise Timeout()


def write_all(fd: int, data: bytes, deadline: float | None = None) -> None:
    """Write all bytes to a (possibly non-blocking) fd, waiting at most until ``deadline``."""
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            _wait(fd, select.POLLOUT, deadline)
            continue
        except (BrokenPipeError, ConnectionResetError):
            raise PeerClosed("the pipe is closed") from None
        view = view[n:]


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    chunks = []
    while n:
        try:
            chunk = os.read(fd, min(n, 1 << 20))
        except BlockingIOError:
            _wait(fd, select.POLLIN, deadline)
            continue
        if not chunk:
            raise PeerClosed("the pipe is closed")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_message(fd: int, deadline: float | None = None,
                 max_blob: int = 1 << 34) -> tuple[dict[str, Any], bytes]:
    """Read one message; raise Timeout, PeerClosed or ProtocolError."""
    jlen, blen = HEADER.unpack(_read_exact(fd, HEADER.size, deadline))
    if jlen > MAX_JSON or blen > max_blob:
        raise ProtocolError(f"message too large ({jlen} + {blen} bytes)")
    meta = _header(_read_exact(fd, jlen, deadline))
    return meta, _read_exact(fd, blen, deadline)
