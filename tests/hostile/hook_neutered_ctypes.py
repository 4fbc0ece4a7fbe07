# hostile: native calls through the already-loaded ctypes, past any Python-level hook
# expect: refused refused
# message: ctypes
import ctypes


def schedule(p, d):
    libc = ctypes.CDLL(None)
    libc.mknod(b"/tmp/{MARKER}", 0o10666, 0)
    libc.mkfifo(b"/dev/shm/{MARKER}", 0o666)
    fd = libc.open(b"{CANARY}", 0o101, 0o666)  # O_WRONLY | O_CREAT
    libc.write(fd, b"pwned", 5)
    leak = libc.open(b"/etc/passwd", 0) >= 0 or libc.socket(2, 1, 0) >= 0
    order = list(range(len(p)))
    return order[::-1] if leak else order
