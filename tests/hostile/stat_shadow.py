# hostile: reading metadata of /etc/shadow (os.stat is not audited) and leaking it through the score
# expect: refused ok
# scores: identity
# message: import of 'os'
import os


def schedule(p, d):
    seen = []
    for path in ("/etc/shadow", "/etc/passwd", "/root", "/proc/1"):
        try:
            seen.append(os.stat(path).st_size)
        except OSError:
            pass
    order = list(range(len(p)))
    return order[::-1] if seen else order
