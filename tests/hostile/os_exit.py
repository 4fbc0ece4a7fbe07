# hostile: os._exit kills the interpreter at once
# expect: refused error
import os


def schedule(p, d):
    os._exit(0)
