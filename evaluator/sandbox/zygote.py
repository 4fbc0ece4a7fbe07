"""The zygote: warm up once, isolate itself, then fork one fresh confined process per shard.

Started by ``process.WorkerProcess`` as ``python -c`` with the options below; it talks to the
parent over its stdin/stdout pipes (moved to private descriptors) with ``protocol``. It never
runs candidate code itself. For each ``run`` it forks a child that keeps only a new reply pipe
(as ``layers.REPLY_FD``), confines itself (``layers.confine_child``), runs the shard and writes
one framed reply; the zygote watches the child's CPU time and wall clock, reaps it, and passes
its exit status and the raw reply bytes to the parent, which checks and scores them. Nothing a
candidate does survives its process. The next child is forked and confined while the parent
scores the last reply, so a request finds one waiting on its request pipe.
"""

from __future__ import annotations

import argparse
import gc
import mmap
import os
import select
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np

from evaluator.sandbox import confine, layers, protocol, runner

EXIT_INTERNAL = 122  # the reply could not be sent (the candidate may have closed the pipe)
WATCH_TICK_S = 0.005
READY_TIMEOUT_S = 30.0
OFF = "switched off by the caller"
WHY_MISSING = {
    "uid": "running as root with no private uid", "landlock": "the kernel has no Landlock",
    "seccomp": "libseccomp or the kernel's seccomp is not available", "rlimits": "setrlimit failed",
    "no_new_privs": "prctl(PR_SET_NO_NEW_PRIVS) failed",
}


def _options(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="sandbox-zygote")
    ap.add_argument("--progress-fd", type=int, required=True)
    ap.add_argument("--memory-mb", type=int, required=True)
    ap.add_argument("--cpu-s", type=int, required=True)
    ap.add_argument("--uid", type=int, default=-1)
    ap.add_argument("--parent", type=int, required=True)
    ap.add_argument("--audit", type=int, default=1)
    ap.add_argument("--without", default="", help="layers to leave off, comma-separated (tests only)")
    return ap.parse_args(argv)


def _take_pipes() -> tuple[int, int]:
    """Move the protocol pipes to 10 and 11; point 0 to 9 at /dev/null.

    Descriptors 3 to 9 stay taken so that nothing the zygote opens later lands where a child
    puts its request and reply pipes.
    """
    rfd, wfd = os.dup2(0, 10), os.dup2(1, 11)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in range(10):
        if fd != null:
            os.dup2(null, fd)
    return rfd, wfd


def _arrays(blob: bytes, sizes: list[int]) -> list[np.ndarray]:
    out, pos = [], 0
    for n in sizes:
        out.append(np.frombuffer(blob, dtype="<i8", count=n, offset=pos).astype(np.int64))
        pos += 8 * n
    return out


class _Discard:
    """sys.stdout and sys.stderr of a candidate: accepts text, writes nothing (fd 1 and 2 are refused)."""

    def write(self, s: str) -> int:
        return len(s)

    def flush(self) -> None:
        pass


@dataclass
class Spare:
    """A forked child, already confined, waiting for its one request."""

    pid: int
    request_fd: int
    reply_fd: int
    keys: frozenset[str]


class Zygote:
    """The warm, isolated process that forks the candidates' processes.

    It keeps one spare child forked and confined ahead of time, so the cost of a fork (several
    ms for a process holding numpy and numba) is paid between requests, not within one.
    """

    def __init__(self, opts: argparse.Namespace, progress: mmap.mmap):
        self.opts = opts
        self.progress = progress
        self.sets: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        confine.read_roots()  # while there are still paths to resolve
        off = set(filter(None, opts.without.split(",")))
        self.isolation = ({k: OFF for k in ("netns", "mntns")} if off & {"netns", "mntns"}
                          else layers.isolate(os.getcwd()))
        self.seccomp = None if "seccomp" in off else layers.build_seccomp()
        self.landlock = None if "landlock" in off else layers.landlock_ruleset()
        self.snapshot = runner.snapshot_modules()
        gc.freeze()  # what exists now is shared by every child; the collector never touches it
        self.spare: Spare | None = None
        self.numba_warm = False
        self.unreaped = 0  # a child that replied, was killed, and is reaped after the reply is passed on
        self.expected: set[str] = set()
        self.layers = {name: "" for name in layers.LAYERS}
        held = self._ready(self._fork())
        if held is None:
            raise RuntimeError("the first candidate process did not start")
        self.layers.update(self.isolation)
        for name, why in WHY_MISSING.items():
            if not held.get(name):
                self.layers[name] = OFF if name in off else why
        self.expected = {k for k, why in self.layers.items() if not why and k in held}

    def _fork(self) -> Spare:
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            self._child(req_r, rep_w)
        os.close(req_r)
        os.close(rep_w)
        os.set_blocking(rep_r, False)
        return Spare(pid, req_w, rep_r, frozenset(self.sets))

    def _ready(self, spare: Spare) -> dict[str, bool] | None:
        """Read a spare's start-up frame (the layers it holds); None if it died or sent something else."""
        try:
            meta, _ = protocol.read_message(spare.reply_fd, time.monotonic() + READY_TIMEOUT_S, max_blob=0)
        except (protocol.Timeout, protocol.ProtocolError):
            self._discard(spare)
            return None
        held = meta.get("ready")
        if not isinstance(held, dict):
            self._discard(spare)
            return None
        self.spare = spare
        return held

    def _discard(self, spare: Spare) -> None:
        try:
            os.kill(spare.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(spare.pid, 0)
        os.close(spare.request_fd)
        os.close(spare.reply_fd)

    def _take(self, key: str) -> Spare | None:
        """Return a confined child holding set ``key``: the spare if it can serve, else a new one."""
        for _ in range(2):  # a spare killed from outside while it waited is replaced once
            spare, self.spare = self.spare, None
            if spare is not None and key not in spare.keys:
                self._discard(spare)
                spare = None
            held = self._ready(spare or self._fork())
            spare, self.spare = self.spare, None
            if held is not None and spare is not None and all(held.get(k) for k in self.expected):
                return spare
            if spare is not None:
                self._discard(spare)
        return None

    def serve(self, rfd: int, wfd: int) -> None:
        while True:
            try:
                meta, blob = protocol.read_message(rfd)
            except protocol.ProtocolError:
                os._exit(0)
            op = meta.get("op")
            if op == "load":
                count, jobs, k = int(meta["count"]), int(meta["jobs"]), int(meta.get("columns", 2))
                offsets, *columns = _arrays(blob, [count + 1, *[jobs] * k])
                for a in (offsets, *columns):
                    a.setflags(write=False)
                self.sets[meta["key"]] = (tuple(columns), offsets)
            elif op == "drop":  # the parent decides which sets the zygote keeps
                self.sets.pop(meta["key"], None)
            elif op == "run":
                head, out = self.run(meta, blob)
                protocol.write_all(wfd, protocol.encode(head, out))
                if self.spare is None:  # between requests, while the parent scores this reply
                    self.spare = self._fork()
                if self.unreaped:
                    os.waitpid(self.unreaped, 0)
                    self.unreaped = 0
            else:
                os._exit(0)

    def run(self, meta: dict[str, Any], blob: bytes) -> tuple[dict[str, Any], bytes]:
        """Hand one shard to a confined child, watch it, reap it; return the report and its raw reply."""
        head: dict[str, Any] = {"op": "result", "nonce": meta["nonce"], "killed": "", "progress": -1,
                                "cpu_s": 0.0, "wall_s": 0.0}
        if not self.numba_warm and "numba" in meta["code"]:
            runner.warm_numba()
            gc.freeze()
            self.numba_warm = True
            if self.spare is not None:  # forked cold: a new one inherits the warm compiler
                self._discard(self.spare)
                self.spare = None
        spare = self._take(meta["key"])
        if spare is None:
            return {**head, "exit": layers.EXIT_CONFINE_FAILED}, b""
        pid, r = spare.pid, spare.reply_fd
        clock = _cpu_clock(pid)
        runner.claim_compile(self.progress, 0.0)
        cpu0, t0 = _cpu_seconds(clock), time.monotonic()
        try:
            protocol.write_all(spare.request_fd, protocol.encode(meta, blob))
        except protocol.PeerClosed:
            pass  # it died meanwhile: waiting on it below reports how
        os.close(spare.request_fd)
        limit = int(meta["max_reply"])
        cpu_budget, wall_budget = float(meta["cpu_s"]), float(meta["wall_s"])
        compile_cap = float(meta.get("compile_cap_s", 0.0))
        chunks: list[bytes] = []
        size, killed, eof = 0, "", False
        poller = select.poll()
        poller.register(r, select.POLLIN)
        while True:
            if not eof and poller.poll(int(WATCH_TICK_S * 1000) + 1):
                try:
                    chunk = os.read(r, 1 << 20)
                except BlockingIOError:
                    chunk = None
                if chunk == b"":
                    eof = True
                elif chunk:
                    chunks.append(chunk)
                    size += len(chunk)
            if eof:
                if _one_frame(chunks, size):  # replied and closed the pipe: end it, reap it later
                    killed = "replied"
                    os.kill(pid, signal.SIGKILL)
                    self.unreaped = pid
                    break
                done, status, _ = os.wait4(pid, os.WNOHANG)
                if done:
                    break
                time.sleep(WATCH_TICK_S / 5)
            if size > limit:
                killed = "size"
            elif _cpu_seconds(clock) - cpu0 > cpu_budget + runner.compile_claim(self.progress, compile_cap):
                killed = "cpu"
            elif time.monotonic() - t0 > wall_budget:
                killed = "wall"
            if killed:
                os.kill(pid, signal.SIGKILL)
                _, status, _ = os.wait4(pid, 0)
                break
        cpu = _cpu_seconds(clock) - cpu0 if killed == "replied" else 0.0
        os.close(r)
        head.update(killed=killed, exit=0 if killed == "replied" else os.waitstatus_to_exitcode(status),
                    progress=int(runner.progress_index(self.progress)), cpu_s=cpu,
                    wall_s=time.monotonic() - t0)
        return head, b"".join(chunks)[: limit + 1]

    def _child(self, request_fd: int, reply_fd: int) -> None:
        """In a forked child: keep two pipes, confine, say ready, take one request, reply once, exit."""
        try:
            os.dup2(request_fd, layers.REQUEST_FD)  # both land above 9, so neither is overwritten
            os.dup2(reply_fd, layers.REPLY_FD)
            sys.stdout = sys.stderr = _Discard()  # type: ignore[assignment]
            held = layers.confine_child(self.opts.uid, self.opts.memory_mb, self.opts.cpu_s, self.seccomp,
                                        self.landlock)
            os.closerange(layers.REQUEST_FD + 1, 1 << 16)  # the ruleset's among them, once applied
            refused = confine.install_audit_hook() if self.opts.audit else []
            protocol.write_all(layers.REPLY_FD, protocol.encode({"ready": held}))
        except BaseException:  # noqa: BLE001 - never run a candidate half-confined
            os._exit(layers.EXIT_CONFINE_FAILED)
        try:
            meta, blob = protocol.read_message(layers.REQUEST_FD)
            columns, offsets = self.sets[meta["key"]]
            count = int(meta["count"])
            shard = runner.Shard(
                code=meta["code"], entry=meta["entry"], seed=int(meta["seed"]), columns=columns,
                offsets=offsets,
                indices=np.frombuffer(blob, dtype="<i8", count=count).astype(np.int64),
                enforce_policy=bool(meta["policy"]), fields=tuple(meta["fields"]),
                warm=tuple(tuple(c) for c in meta["warm"]), machine_code=blob[8 * count:],
                export_machine=bool(meta.get("export_machine")),
                compile_failed=str(meta.get("compile_failed", "")))
        except BaseException:  # noqa: BLE001 - the zygote went away, or sent nothing
            os._exit(EXIT_INTERNAL)
        try:
            reply = runner.run_shard(shard, self.progress, refused)
            taint = runner.tampering(self.snapshot) if reply["status"] == "ok" else ""
            if taint:
                reply = {"status": "refused", "fail": int(shard.indices[0]), "error": taint}
                shard.orders.clear()
                shard.seconds.clear()
                shard.machine_out = b""
            reply["done"] = len(shard.orders)
            reply["nonce"] = meta["nonce"]
            orders = np.concatenate(shard.orders) if shard.orders else np.zeros(0, np.int64)
            if shard.machine_out:
                reply["machine"] = len(shard.machine_out)
            out = (orders.astype("<i8").tobytes() + np.array(shard.seconds, dtype="<f8").tobytes()
                   + shard.machine_out)
            protocol.write_all(layers.REPLY_FD, protocol.encode(reply, out))
            os.close(layers.REPLY_FD)  # the zygote passes the reply on without waiting for the exit
        except BaseException:  # noqa: BLE001
            os._exit(EXIT_INTERNAL)
        os._exit(0)


def _one_frame(chunks: list[bytes], size: int) -> bool:
    """Say whether the bytes read are exactly one whole message."""
    head = b"".join(chunks[:2])[: protocol.HEADER.size]
    if len(head) < protocol.HEADER.size:
        return False
    jlen, blen = protocol.HEADER.unpack(head)
    return size == protocol.HEADER.size + jlen + blen


def _alive(pid: int) -> bool:
    done, _ = os.waitpid(pid, os.WNOHANG)
    return done == 0


def _cpu_clock(pid: int) -> int:
    """Return the clock id of another process's CPU time (``clock_getcpuclockid``, as glibc makes it)."""
    return ((~pid) << 3) | 2


def _cpu_seconds(clock: int) -> float:
    try:
        return time.clock_gettime(clock)
    except OSError:  # the process is gone
        return 0.0


def main(argv: list[str] | None = None) -> None:
    """Serve the parent until it closes the pipe or says ``exit``."""
    opts = _options(sys.argv[1:] if argv is None else argv)
    progress = mmap.mmap(opts.progress_fd, runner.PAGE_BYTES)
    os.close(opts.progress_fd)
    rfd, wfd = _take_pipes()
    try:
        layers.set_parent_death_signal(opts.parent)
        runner.warm()
        zygote = Zygote(opts, progress)
    except BaseException:  # noqa: BLE001 - report any start-up failure to the parent
        failure = {"op": "hello", "ok": False, "error": traceback.format_exc()[-2000:]}
        protocol.write_all(wfd, protocol.encode(failure))
        os._exit(1)
    hello = {"op": "hello", "ok": True, "pid": os.getpid(), "uid": opts.uid, "layers": zygote.layers}
    protocol.write_all(wfd, protocol.encode(hello))
    zygote.serve(rfd, wfd)
