# hostile: a thread that keeps running after the call returns
# expect: refused error|refused
import threading


def spin():
    while True:
        pass


def schedule(p, d):
    threading.Thread(target=spin, daemon=True).start()
    return list(range(len(p)))
