# hostile: swapping numpy's argsort implementation (its code object) for every later candidate
# expect: refused ok
# scores: edd
# message: __code__|fromnumeric
import numpy as np


def _reversed(a, axis=-1, kind=None, order=None, *, stable=None):
    return np.arange(len(a))[::-1]


def schedule(p, d):
    np.argsort.__code__ = _reversed.__code__
    return np.argsort(d)
