"""The worker process: warm up, confine itself, then run shards sent by the parent until told to stop.

Started by ``process.WorkerProcess`` as ``python -c`` with the options below. It talks over its
stdin/stdout pipes (moved to private descriptors) with ``protocol``; descriptors 0, 1 and 2 then
point at /dev/null so whatever a candidate prints goes nowhere.
"""

from __future__ import annotations

import argparse
import mmap
import os
import sys
import traceback
from typing import Any

import numpy as np

from evaluator.sandbox import confine, protocol, runner


def _options(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="sandbox-worker")
    ap.add_argument("--progress-fd", type=int, required=True)
    ap.add_argument("--memory-mb", type=int, required=True)
    ap.add_argument("--cpu-s", type=int, required=True)
    ap.add_argument("--uid", type=int, default=-1)
    ap.add_argument("--parent", type=int, required=True)
    ap.add_argument("--audit", type=int, default=1)
    return ap.parse_args(argv)


def _take_pipes() -> tuple[int, int]:
    """Move the protocol pipes off 0/1 and point 0, 1, 2 at /dev/null."""
    rfd, wfd = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    return rfd, wfd


def _arrays(blob: bytes, sizes: list[int]) -> list[np.ndarray]:
    out, pos = [], 0
    for n in sizes:
        out.append(np.frombuffer(blob, dtype="<i8", count=n, offset=pos).astype(np.int64))
        pos += 8 * n
    return out


def _run(meta: dict[str, Any], blob: bytes, sets: dict, progress: mmap.mmap,
         refused: list[str]) -> tuple[dict[str, Any], bytes]:
    p, d, offsets = sets[meta["key"]]
    shard = runner.Shard(
        code=meta["code"], entry=meta["entry"], seed=int(meta["seed"]), p=p, d=d, offsets=offsets,
        indices=np.frombuffer(blob, dtype="<i8").astype(np.int64), enforce_policy=bool(meta["policy"]),
    )
    reply = runner.run_shard(shard, progress, refused)
    reply["done"] = len(shard.orders)
    orders = np.concatenate(shard.orders) if shard.orders else np.zeros(0, np.int64)
    seconds = np.array(shard.seconds, dtype="<f8")
    return reply, orders.astype("<i8").tobytes() + seconds.tobytes()


def main(argv: list[str] | None = None) -> None:
    """Serve the parent until it closes the pipe or says ``exit``."""
    opts = _options(sys.argv[1:] if argv is None else argv)
    rfd, wfd = _take_pipes()
    try:
        runner.warm()
        progress = mmap.mmap(opts.progress_fd, 16)
        os.close(opts.progress_fd)
        info = confine.confine(opts.memory_mb, opts.cpu_s, opts.uid, opts.parent)
        refused = confine.install_audit_hook() if opts.audit else []
        snapshot = runner.snapshot_modules()
    except BaseException:  # noqa: BLE001 - report any start-up failure to the parent
        failure = {"op": "hello", "ok": False, "error": traceback.format_exc()[-2000:]}
        protocol.write_all(wfd, protocol.encode(failure))
        os._exit(1)
    protocol.write_all(wfd, protocol.encode({"op": "hello", "ok": True, "pid": os.getpid(), **info}))
    sets: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    while True:
        try:
            meta, blob = protocol.read_message(rfd)
        except protocol.ProtocolError:
            os._exit(0)
        if meta.get("op") == "load":
            count, jobs = int(meta["count"]), int(meta["jobs"])
            offsets, p, d = _arrays(blob, [count + 1, jobs, jobs])
            sets[meta["key"]] = (p, d, offsets)
        elif meta.get("op") == "drop":  # the parent decides which sets a worker keeps
            sets.pop(meta["key"], None)
        elif meta.get("op") == "run":
            reply, out = _run(meta, blob, sets, progress, refused)
            taint = runner.tampering(snapshot)
            if taint:
                reply = {"status": "refused", "fail": 0, "error": taint, "done": 0}
                out = b""
            reply["retire"] = bool(taint) or reply["status"] == "memory"
            protocol.write_all(wfd, protocol.encode(reply, out))
            if reply["retire"]:
                os._exit(0)
        else:
            os._exit(0)
