# hostile: a compiled function that never returns
# expect: timeout timeout
# message: timed out
import numpy as np
from numba import njit


@njit
def spin(n):
    i = 1
    while i != 0:
        i = (i * 3 + n) % 1000003 + 1  # never 0: loops forever, with a result it needs
    return i


@njit
def schedule(p, d):
    spin(p.shape[0])
    return np.argsort(d)
