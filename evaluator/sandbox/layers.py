"""The operating-system layers around candidate code: the boundary is the kernel, not Python.

The zygote (``zygote.py``) calls ``isolate`` once, after importing everything: it moves into its
own network namespace and its own mount namespace whose root is an empty read-only tmpfs, so
nothing forked from it can see a file. Each candidate's process then calls ``confine_child``:
rlimits, an unprivileged uid, no new privileges, a Landlock ruleset that grants no file access,
and a seccomp filter (compiled once by libseccomp through ``pyseccomp``) that refuses sockets,
new processes and threads, device and fifo nodes, tracing, namespaces, and any write except to
the reply pipe. ``LAYERS`` names them; a kernel that refuses one is reported, never hidden.
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import signal
from typing import Any

try:  # both load native code: import them here, before the zygote's root is emptied
    import landlock
except ImportError:  # pragma: no cover - a dependency; its absence is reported as a missing layer
    landlock = None
try:
    import pyseccomp
except (ImportError, OSError, AttributeError):  # libseccomp itself may be missing
    pyseccomp = None

LAYERS = ("uid", "netns", "mntns", "landlock", "seccomp", "no_new_privs", "rlimits")
"""Every layer, in the order the start-up report names them."""

REPLY_FD = 3
"""The only descriptor a candidate's process may write to."""
REQUEST_FD = 4
"""The descriptor a candidate's process reads its one request from."""
EXIT_CONFINE_FAILED = 121
"""Exit code of a candidate's process that could not apply a layer the zygote found working."""

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
SYS_PIVOT_ROOT = 155  # x86_64
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS, PR_GET_NO_NEW_PRIVS = 1, 4, 38, 39
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
MAX_OPEN_FILES = 64

DENIED_SYSCALLS = (
    # network
    "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4", "sendto", "sendmsg", "sendmmsg",
    # new processes and threads, other programs
    "fork", "vfork", "clone", "clone3", "execve", "execveat",
    # nodes, links and file changes (the root is empty and read-only besides)
    "mknod", "mknodat", "creat", "link", "linkat", "symlink", "symlinkat", "unlink", "unlinkat", "rename",
    "renameat", "renameat2", "mkdir", "mkdirat", "rmdir", "truncate", "ftruncate", "fallocate", "chmod",
    "fchmod", "fchmodat", "chown", "fchown", "lchown", "fchownat", "utimensat", "setxattr", "lsetxattr",
    "fsetxattr", "removexattr", "lremovexattr", "fremovexattr", "memfd_create",
    # other processes: signals, tracing, memory
    "kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "pidfd_open", "pidfd_send_signal",
    "pidfd_getfd", "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
    # privileges, namespaces, mounts, kernel facilities
    "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups", "setfsuid", "setfsgid",
    "capset", "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree",
    "fsopen", "fsmount", "fsconfig", "fspick", "mount_setattr", "bpf", "perf_event_open", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "keyctl", "add_key", "request_key",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot", "swapon",
    "swapoff", "acct", "quotactl", "name_to_handle_at", "open_by_handle_at", "personality", "syslog",
    "fanotify_init", "inotify_init", "inotify_init1", "landlock_create_ruleset",
    # writes that bypass write(2) (the write family itself is allowed on REPLY_FD only)
    "sendfile", "splice", "tee", "vmsplice", "copy_file_range",
)
WRITE_SYSCALLS = ("write", "writev", "pwrite64", "pwritev", "pwritev2")


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


_LIBC = _libc()


def _call(fn: str, *args: Any) -> int:
    """Call a libc function; return 0 or the errno it set."""
    if _LIBC is None:
        return errno.ENOSYS
    if getattr(_LIBC, fn)(*args) != 0:
        return ctypes.get_errno() or errno.EPERM
    return 0


def _empty_root(where: str) -> str:
    """Make ``where`` (an empty directory) an empty read-only tmpfs and the root of this mount namespace."""
    steps = (
        ("mount", None, b"/", None, MS_REC | MS_PRIVATE, None),
        ("mount", b"none", where.encode(), b"tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, b"size=16k,mode=0755"),
    )
    for fn, *args in steps:
        if err := _call(fn, *args):
            return f"{fn}: {os.strerror(err)}"
    os.mkdir(os.path.join(where, "old"))
    if _LIBC.syscall(SYS_PIVOT_ROOT, where.encode(), os.path.join(where, "old").encode()) != 0:  # type: ignore[union-attr]
        return f"pivot_root: {os.strerror(ctypes.get_errno())}"
    os.chdir("/")
    if err := _call("umount2", b"/old", MNT_DETACH):
        return f"umount2: {os.strerror(err)}"
    os.rmdir("/old")
    flags = MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
    if err := _call("mount", None, b"/", None, flags, None):
        return f"remount read-only: {os.strerror(err)}"
    return ""


def isolate(home: str) -> dict[str, str]:
    """Move this process (the zygote) into its own network and mount namespaces with an empty root.

    Returns ``{layer: ""}`` for what holds and ``{layer: reason}`` for what the kernel refused.
    As root the namespaces are made directly; otherwise through a user namespace where allowed.
    """
    out = {"netns": "", "mntns": ""}
    flags = CLONE_NEWNS | CLONE_NEWNET
    if os.geteuid() != 0:
        uid, gid = os.geteuid(), os.getegid()
        if err := _call("unshare", CLONE_NEWUSER | flags):
            return {"netns": f"unshare: {os.strerror(err)}", "mntns": f"unshare: {os.strerror(err)}"}
        maps = (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1"))
        for name, text in maps:
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
    elif err := _call("unshare", flags):
        if err2 := _call("unshare", CLONE_NEWNET):
            out["netns"] = f"unshare: {os.strerror(err2)}"
        out["mntns"] = f"unshare: {os.strerror(err)}"
        return out
    out["mntns"] = _empty_root(home)
    return out


def set_parent_death_signal(parent_pid: int) -> None:
    """Die with the parent: SIGKILL on its death, and exit now if it already died."""
    _call("prctl", PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(errno.ESRCH)


def landlock_ruleset() -> Any:
    """Return a Landlock ruleset that handles every file access right and grants none (None: no Landlock)."""
    try:
        return landlock.Ruleset() if landlock is not None and landlock.landlock_abi_version() > 0 else None
    except OSError:
        return None


class Seccomp:
    """A syscall filter compiled once by libseccomp; each candidate's process loads the same BPF program."""

    def __init__(self, program: bytes):
        self._program = ctypes.create_string_buffer(program, len(program))
        self._fprog = _SockFprog(len(program) // 8, ctypes.cast(self._program, ctypes.c_void_p))

    def load(self) -> None:
        """Install the filter on this process (needs no_new_privs); raise OSError if the kernel refuses."""
        if _LIBC is None or _LIBC.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(self._fprog), 0, 0):
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def build_seccomp() -> Seccomp | None:
    """Return the filter every candidate's process loads (None when libseccomp or seccomp is missing)."""
    f = _libseccomp_filter()
    if f is None:
        return None
    fd = os.memfd_create("discover-seccomp")
    try:
        with os.fdopen(os.dup(fd), "wb") as out:
            f.export_bpf(out)
        program = os.pread(fd, 1 << 20, 0)
    finally:
        os.close(fd)
    return Seccomp(program) if program and len(program) % 8 == 0 else None


def _libseccomp_filter() -> Any:
    sc = pyseccomp
    if sc is None:
        return None
    f = sc.SyscallFilter(sc.ALLOW)
    deny = sc.ERRNO(errno.EPERM)
    for name in DENIED_SYSCALLS:
        try:
            f.add_rule(deny, name)
        except (OSError, ValueError, RuntimeError):  # unknown on this architecture
            pass
    for name in WRITE_SYSCALLS:
        f.add_rule(deny, name, sc.Arg(0, sc.NE, REPLY_FD))
    return f


def _limit(res: int, value: int) -> bool:
    try:
        resource.setrlimit(res, (value, value))
        return True
    except (ValueError, OSError):
        return False


def confine_child(uid: int, memory_mb: int, cpu_s: int, seccomp: Any, ruleset: Any) -> dict[str, bool]:
    """Apply the per-process layers to a freshly forked candidate process; return which hold.

    Order matters: rlimits and the uid first (the uid change needs the capabilities that the
    no-new-privileges bit and seccomp then take away), Landlock before seccomp (whose filter
    refuses the Landlock calls to everything after it).
    """
    held = {name: False for name in ("uid", "landlock", "seccomp", "no_new_privs", "rlimits")}
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    held["rlimits"] = all((
        _limit(resource.RLIMIT_AS, memory_mb << 20), _limit(resource.RLIMIT_CPU, cpu_s),
        _limit(resource.RLIMIT_FSIZE, 0), _limit(resource.RLIMIT_CORE, 0),
        _limit(resource.RLIMIT_NOFILE, MAX_OPEN_FILES)))
    if uid >= 0 and os.geteuid() == 0:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    held["uid"] = os.geteuid() != 0
    held["rlimits"] &= _limit(resource.RLIMIT_NPROC, 0) or not held["uid"]
    _call("prctl", PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    _call("prctl", PR_SET_DUMPABLE, 0, 0, 0, 0)
    _call("prctl", PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    held["no_new_privs"] = _LIBC is not None and _LIBC.prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1
    if ruleset is not None:
        ruleset.apply()
        held["landlock"] = True
    if seccomp is not None:
        seccomp.load()
        held["seccomp"] = True
    return held
