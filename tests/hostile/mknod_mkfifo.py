# hostile: making a fifo and a device node in /tmp and /dev/shm (not audited by Python)
# expect: refused ok
# scores: identity
# message: import of 'os'
import os
import stat


def schedule(p, d):
    made = 0
    for call in (lambda: os.mkfifo("/tmp/{MARKER}"), lambda: os.mkfifo("/dev/shm/{MARKER}"),
                 lambda: os.mknod("/tmp/{MARKER}.node", stat.S_IFREG | 0o666),
                 lambda: os.mknod("/dev/shm/{MARKER}.node", stat.S_IFIFO | 0o666)):
        try:
            call()
            made += 1
        except OSError:
            pass
    order = list(range(len(p)))
    return order[::-1] if made else order
