# hostile: ignoring SIGTERM and looping
# expect: refused timeout
import signal


def schedule(p, d):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        pass
