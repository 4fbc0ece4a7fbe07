# hostile: sleeping far past the time limit
# expect: refused timeout
# message: time
import time


def schedule(p, d):
    time.sleep(600)
    return list(range(len(p)))
