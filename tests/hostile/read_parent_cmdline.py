# hostile: reading the parent's command line, then the files it names (the instance file, its optima)
# expect: refused refused|ok
# scores: identity
# message: import of 'os'|open
import os


def schedule(p, d):
    found = ""
    for path in (f"/proc/{os.getppid()}/cmdline", "/proc/self/cmdline", "/proc/1/cmdline", "{ANSWERS}"):
        try:
            with open(path, "rb") as f:
                found += f.read(1000).decode(errors="replace")
        except OSError:
            pass
    order = list(range(len(p)))
    return order[::-1] if found else order
