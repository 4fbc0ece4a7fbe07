"""Parent side of one zygote process: start it, talk to it with deadlines, kill its whole group.

The zygote runs in its own session (hence its own process group); the candidates' processes it
forks run as its slot's own unprivileged user id when we are root. Killing it sends SIGKILL to
the group, then sweeps any process left in its session or under that user id, then reaps it, so
neither zombies nor orphans survive.
"""

from __future__ import annotations

import mmap
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from evaluator.sandbox import confine, protocol

_ROOT = str(Path(__file__).resolve().parents[2])
_BOOT = f"import sys; sys.path.insert(0, {_ROOT!r}); from evaluator.sandbox.zygote import main; main()"
_PROGRESS = struct.Struct("<qq")
PAGE_BYTES = 24  # (instance running, stop before), then the compile seconds the candidate claims
NO_STOP = (1 << 63) - 1
UID_BASE = 1_500_000_000
START_TIMEOUT_S = 120.0  # a cold numba cache compiles the helpers on first start
HOME_PREFIX = "discover-sandbox-"
_swept_homes = False


class WorkerStartError(RuntimeError):
    """A worker could not start; the message says why."""


def worker_uid(slot: int, serial: int) -> int:
    """Return an unused-looking user id unique to this parent process, sandbox and slot."""
    return UID_BASE + (os.getpid() % 100_000) * 4096 + (serial % 16) * 256 + slot % 256


class WorkerProcess:
    """One live zygote and the pipes, progress page and empty directory (its future root) it owns."""

    def __init__(self, slot: int, memory_mb: int, cpu_s: int, audit: bool = True, sandbox_serial: int = 0,
                 without: tuple[str, ...] = ()):
        self.slot = slot
        self.loaded: OrderedDict[str, None] = OrderedDict()  # sets loaded in the worker, oldest use first
        self.info: dict[str, Any] = {}
        self.uid = worker_uid(slot, sandbox_serial) if os.geteuid() == 0 else -1
        _remove_stale_homes()
        self.home = tempfile.mkdtemp(prefix=f"{HOME_PREFIX}{os.getpid()}-")
        os.chmod(self.home, 0o555)  # empty and not writable, even for the worker
        memfd = os.memfd_create("discover-sandbox-progress")
        page = None
        try:
            os.ftruncate(memfd, PAGE_BYTES)
            self.page = page = mmap.mmap(memfd, PAGE_BYTES)
            self.set_stop(NO_STOP)
            flags = ["-s", "-B"] + (["-P"] if sys.version_info >= (3, 11) else [])
            cmd = [sys.executable, *flags, "-c", _BOOT, "--progress-fd", str(memfd),
                   "--memory-mb", str(memory_mb), "--cpu-s", str(cpu_s), "--uid", str(self.uid),
                   "--parent", str(os.getpid()), "--audit", str(int(audit)), "--without", ",".join(without)]
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                cwd=self.home, env=confine.worker_env(os.environ, self.home), pass_fds=(memfd,),
                start_new_session=True, close_fds=True,
            )
        except BaseException:
            if page is not None:
                page.close()
            shutil.rmtree(self.home, ignore_errors=True)
            raise
        finally:
            os.close(memfd)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.wfd, self.rfd = self.proc.stdin.fileno(), self.proc.stdout.fileno()
        os.set_blocking(self.wfd, False)
        os.set_blocking(self.rfd, False)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def handshake(self, timeout_s: float = START_TIMEOUT_S) -> dict[str, Any]:
        """Wait for the worker's hello; raise WorkerStartError (after killing it) if it fails."""
        try:
            meta, _ = protocol.read_message(self.rfd, time.monotonic() + timeout_s, max_blob=0)
        except (protocol.Timeout, protocol.ProtocolError) as e:
            self.kill()
            raise WorkerStartError(f"sandbox worker did not start: {type(e).__name__} {e}".strip()) from None
        if meta.get("op") != "hello" or not meta.get("ok"):
            self.kill()
            raise WorkerStartError(f"sandbox worker failed to start:\n{meta.get('error', meta)}")
        self.info = meta
        return meta

    def send(self, meta: dict[str, Any], blob: bytes = b"", deadline: float | None = None) -> None:
        """Send one message; raise protocol.Timeout or PeerClosed."""
        protocol.write_all(self.wfd, protocol.encode(meta, blob), deadline)

    def receive(self, deadline: float, max_blob: int) -> tuple[dict[str, Any], bytes]:
        """Receive one message by the deadline; raise protocol.Timeout, PeerClosed or ProtocolError."""
        return protocol.read_message(self.rfd, deadline, max_blob)

    def set_stop(self, index: int) -> None:
        """Tell the candidate's process to stop before running instance ``index`` (or later ones)."""
        if not self.page.closed:
            struct.pack_into("<q", self.page, 8, index)

    def progress(self) -> int:
        """Return the instance the candidate's process last started (as it wrote it: informative only)."""
        return -1 if self.page.closed else _PROGRESS.unpack_from(self.page, 0)[0]

    def exit_description(self) -> str:
        """Describe how the worker ended (call after kill())."""
        rc = self.proc.returncode
        if rc is None:
            return "is still running"
        if rc < 0:
            try:
                return f"was killed by {signal.Signals(-rc).name}"
            except ValueError:
                return f"was killed by signal {-rc}"
        return f"exited with code {rc}"

    def exit_signal(self) -> int | None:
        rc = self.proc.returncode
        return -rc if rc is not None and rc < 0 else None

    def signal_kill(self) -> None:
        """SIGKILL the worker's group without touching pipes (safe while a driver thread reads them)."""
        if self.proc.returncode is None:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def kill(self) -> None:
        """Kill the worker's group and anything left in its session or user id; reap; clean up."""
        if self.proc.returncode is None and self.proc.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        _sweep(self.pid, self.uid)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()  # type: ignore[union-attr]
            except OSError:
                pass
        try:
            self.page.close()
        except (BufferError, ValueError):
            pass
        shutil.rmtree(self.home, ignore_errors=True)

    def close(self, grace_s: float = 1.0) -> None:
        """Ask the worker to exit, then kill whatever is left."""
        if self.proc.poll() is None:
            try:
                self.send({"op": "exit"}, deadline=time.monotonic() + 0.5)
                self.proc.wait(timeout=grace_s)
            except (protocol.Timeout, protocol.ProtocolError, subprocess.TimeoutExpired, OSError):
                pass
        self.kill()


def _remove_stale_homes() -> None:
    """Once per process, remove the empty working directories of workers whose parent has died."""
    global _swept_homes
    if _swept_homes:
        return
    _swept_homes = True
    for path in Path(tempfile.gettempdir()).glob(f"{HOME_PREFIX}*-*"):
        owner = path.name[len(HOME_PREFIX):].split("-", 1)[0]
        if owner.isdigit() and int(owner) != os.getpid() and not Path(f"/proc/{owner}").exists():
            try:
                path.rmdir()  # only ever empty; anything else is not ours to delete
            except OSError:
                pass


def _sweep(sid: int, uid: int) -> None:
    """SIGKILL every process in session ``sid`` or owned by ``uid`` (a worker's private user id)."""
    for _ in range(3):  # a process may fork while we sweep; NPROC=0 makes that fail, but be thorough
        found = False
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                owner = (entry / "status").read_text().split("\nUid:", 1)[1].split()[0] if uid >= 0 else ""
            except (OSError, IndexError):
                continue
            if int(stat[3]) == sid or (uid >= 0 and owner == str(uid)):
                if stat[0] == "Z":
                    continue
                found = True
                try:
                    os.kill(int(entry.name), signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        if not found:
            return
        time.sleep(0.01)
