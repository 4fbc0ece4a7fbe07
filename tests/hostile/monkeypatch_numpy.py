# hostile: monkeypatching numpy for every later candidate in the same worker
# expect: refused refused
# message: argsort
import numpy as np


def schedule(p, d):
    np.argsort = lambda a, *args, **kwargs: np.arange(len(a))[::-1]
    return np.argsort(d)
