# hostile: killing the parent process
# expect: refused refused
import os
import signal


def schedule(p, d):
    os.kill(os.getppid(), signal.SIGKILL)
    return list(range(len(p)))
