"""Python-level confinement: a scrubbed environment for the zygote, an audit hook in each candidate's process.

The parent calls ``worker_env``; each candidate's process calls ``install_audit_hook`` after the
operating-system layers (``layers``) are in place. The hook is defence in depth and the source of
clear error messages ("the sandbox refused open(...)"); the boundary is the kernel.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

from evaluator.sandbox import policy

SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH|PROXY|COOKIE|SESSION|PRIVATE", re.I)
KEEP_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ")
FIXED_ENV = {
    "PYTHONHASHSEED": "0",  # string hashing, hence set order, is the same in every worker
    "PYTHONDONTWRITEBYTECODE": "1",
    "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1",
}

BLOCKED_EVENTS = frozenset({
    "os.system", "os.fork", "os.forkpty", "os.kill", "os.killpg", "os.startfile", "signal.pthread_kill",
    "os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.chflags", "os.lchflags",
    "os.link", "os.symlink", "os.truncate", "os.utime", "os.chdir", "os.listdir", "os.scandir",
    "os.setxattr", "os.removexattr", "os.listxattr", "os.getxattr", "os.putenv", "os.unsetenv",
    "os.memfd_create", "sys.addaudithook", "sys.setprofile", "sys.settrace", "code.__new__",
    "gc.get_objects", "gc.get_referrers", "gc.get_referents",
})
BLOCKED_PREFIXES = (
    "socket.", "ctypes.", "subprocess.", "os.exec", "os.spawn", "os.posix_spawn", "shutil.", "tempfile.",
    "sqlite3.", "urllib.", "http.", "ftplib.", "smtplib.", "poplib.", "imaplib.", "nntplib.", "telnetlib.",
    "webbrowser.", "fcntl.", "mmap.", "resource.", "pty.", "glob.", "pickle.", "syslog.", "_winapi.",
)
COMPILER_EVENTS = frozenset({
    "ctypes.create_string_buffer", "ctypes.string_at", "ctypes.cdata", "pickle.find_class",
})
"""Events numba's compiler raises while it compiles a candidate's ``@njit`` function in memory."""
COMPILER_PACKAGES = ("numba.", "llvmlite.", "evaluator.sandbox.machine")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def worker_env(parent: Mapping[str, str], home: str) -> dict[str, str]:
    """Return the environment of a worker: a few harmless names, never anything secret-looking."""
    env = {k: parent[k] for k in KEEP_ENV if k in parent}
    env.update({k: v for k, v in parent.items() if k.startswith("NUMBA_") and k != "NUMBA_NUM_THREADS"})
    env = {k: v for k, v in env.items() if not SECRET_NAME.search(k)}
    env.update(FIXED_ENV)
    env.update({"HOME": home, "TMPDIR": home})
    env.setdefault("PATH", "/usr/bin:/bin")
    return env


@functools.lru_cache(1)
def read_roots() -> tuple[str, ...]:
    """Return the directories the hook lets a candidate open files under (computed before isolation)."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(policy.__file__).resolve().parents[1])}
    return tuple(os.path.realpath(r) + os.sep for r in roots)


def _called_from_the_compiler() -> bool:
    """Say whether the code raising an event is numba's or llvmlite's (a few frames above the hook).

    The OS layers hold whatever the answer; this only spares numba's compiler the hook's refusals.
    """
    frame = sys._getframe(2)
    for _ in range(4):
        if frame is None:
            return False
        if str(frame.f_globals.get("__name__", "")).startswith(COMPILER_PACKAGES):
            return True
        frame = frame.f_back
    return False


def install_audit_hook() -> list[str]:
    """Install a permanent audit hook refusing escapes; return the list it appends refused events to.

    The hook cannot be removed. It refuses sockets, processes, signals, native code, file writes
    and directory listings, opening files outside the Python installation and the project, and
    importing modules beyond the candidate allowlist.
    """
    refused: list[str] = []
    roots = read_roots()
    blocked, prefixes = BLOCKED_EVENTS, BLOCKED_PREFIXES

    def refuse(event: str) -> None:
        refused.append(event)
        raise PermissionError(f"the sandbox refuses {event}")

    def hook(event: str, args: tuple) -> None:
        if event in blocked or event.startswith(prefixes):
            if event in COMPILER_EVENTS and _called_from_the_compiler():
                return
            refuse(event)
        elif event == "open":
            path, mode, flags = (tuple(args) + (None, None, 0))[:3]
            if not isinstance(path, (str, bytes)) or (mode and any(c in str(mode) for c in "wax+")):
                refuse(f"open({path!r}, {mode!r})")
            if flags and int(flags) & _WRITE_FLAGS:
                refuse(f"open({path!r}) for writing")
            real = os.path.realpath(os.fsdecode(path))
            if not (real + os.sep).startswith(roots):
                refuse(f"open({os.fsdecode(path)!r})")
        elif event == "import":
            name = str(args[0])
            if not (policy.module_allowed(name) or name.split(".")[0] == "encodings"):
                refuse(f"import {name}")

    sys.addaudithook(hook)
    return refused
