# hostile: a fork bomb
# expect: refused refused
# message: os
import os


def schedule(p, d):
    while True:
        os.fork()
