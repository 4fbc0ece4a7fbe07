# hostile: a 10 GB numpy allocation
# expect: memory memory
# message: MemoryError
import numpy as np


def schedule(p, d):
    block = np.ones(10 * 2**30 // 8)
    return list(np.argsort(d + int(block[0])))
