# hostile: a compiled function that allocates without bound
# expect: memory memory
# message: MemoryError
import numpy as np
from numba import njit


@njit
def hoard(n):
    blocks = [np.ones(1, np.float64)]
    while True:
        blocks.append(np.empty(1 << 24, np.float64))  # 128 MB more each time, never freed
    return len(blocks)


def schedule(p, d):
    hoard(p.shape[0])
    return np.argsort(d, kind="stable")
