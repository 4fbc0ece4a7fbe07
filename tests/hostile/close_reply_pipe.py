# hostile: closing every descriptor so the sandbox cannot reply
# expect: refused error
# message: import of 'os'|before replying
import os


def schedule(p, d):
    os.closerange(0, 64)
    return list(range(len(p)))
