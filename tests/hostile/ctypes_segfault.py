# hostile: a segfault through ctypes
# expect: refused refused
# message: ctypes
import ctypes


def schedule(p, d):
    ctypes.string_at(0)
    return list(range(len(p)))
