"""A real Ray cluster on loopback for the tests and the bench: a head and worker nodes, one CPU each.

Started with ``ray start`` in subprocesses under a temp dir of its own; ``close`` kills exactly the
processes whose command line names that dir (never another user's Ray), then removes the dir.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAY = Path(sys.executable).parent / "ray"
SECRET_NAMES = ("OPENAI_API_KEY", "DISCOVER_TEST_MARKER")  # never in the cluster's own environment


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalCluster:
    """``LocalCluster(workers=1)``: a head plus ``workers`` worker nodes, each with ``cpus`` CPUs."""

    def __init__(self, workers: int = 1, cpus: int = 1) -> None:
        self.temp_dir = tempfile.mkdtemp(prefix="dray-", dir="/tmp")  # short: Ray's socket paths
        self.address = f"127.0.0.1:{free_port()}"
        self.cpus = cpus
        self.worker_ports: list[int] = []
        self.env = {k: v for k, v in os.environ.items() if k not in SECRET_NAMES and not k.startswith("RAY_")}
        self.env["RAY_USAGE_STATS_ENABLED"] = "0"
        try:
            port = self.address.rsplit(":", 1)[1]
            self._ray("start", "--head", "--port", port, "--temp-dir", self.temp_dir,
                      "--include-dashboard", "false")
            for _ in range(workers):
                self.add_worker()
        except BaseException:
            self.close()
            raise

    def _ray(self, *args: str) -> None:
        subprocess.run([str(RAY), *args, "--node-ip-address", "127.0.0.1", "--num-cpus", str(self.cpus),
                        "--disable-usage-stats"], env=self.env, check=True, capture_output=True, timeout=180)

    def add_worker(self) -> None:
        """Start one more worker node and wait until the head counts it."""
        port = free_port()
        self._ray("start", "--address", self.address, "--node-manager-port", str(port))
        self.worker_ports.append(port)
        deadline = time.monotonic() + 60
        while not self.pids(f"--node_manager_port={port}") and time.monotonic() < deadline:
            time.sleep(0.2)

    def pids(self, *needles: str) -> list[int]:
        """Return the processes of this cluster whose command line holds every needle (none: all of them,
        with their descendants, such as workers that renamed themselves ``ray::…``)."""
        procs = {}
        for d in Path("/proc").iterdir():
            if d.name.isdigit() and int(d.name) != os.getpid():
                try:
                    ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
                procs[int(d.name)] = ppid
        out = {p for p in procs if self.temp_dir in _cmd(p) and all(n in _cmd(p) for n in needles)}
        while not needles:
            more = {p for p, pp in procs.items() if pp in out and p not in out}
            if not more:
                break
            out |= more
        return sorted(out)

    def kill_worker_raylet(self, k: int = -1) -> list[int]:
        """SIGKILL the raylet of worker node ``k``: the node dies as if its machine went down."""
        pids = self.pids("raylet", f"--node_manager_port={self.worker_ports[k]}")
        pids = [p for p in pids if "/raylet/raylet" in _cmd(p)]
        for p in pids:
            os.kill(p, signal.SIGKILL)
        return pids

    def close(self) -> None:
        """Kill every process of this cluster (and only those), then remove its temp dir."""
        for _ in range(3):
            pids = self.pids()
            for p in pids:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if not pids:
                break
            time.sleep(0.3)
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def _cmd(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
