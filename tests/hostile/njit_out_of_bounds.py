# hostile: compiled out-of-bounds writes (numba checks no bounds by default) far past the array
# expect: error error
# message: SIGSEGV
import numpy as np
from numba import njit


@njit(boundscheck=False)
def scribble(a):
    step = 1 << 12
    for k in range(1, 1 << 30):
        a[k * step] = k  # 32 KB further each time: out of the heap, into unmapped memory
    return a


def schedule(p, d):
    scribble(np.zeros(4, np.int64))
    return np.argsort(d, kind="stable")
