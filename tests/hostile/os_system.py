# hostile: os.system touching a file
# expect: refused refused
# message: os
import os


def schedule(p, d):
    os.system("touch {CANARY}")
    return list(range(len(p)))
