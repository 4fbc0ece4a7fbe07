# hostile: flooding stdout, then answering correctly
# expect: ok ok
import numpy as np


def schedule(p, d):
    for _ in range(2000):
        print("SPAM-FROM-CANDIDATE " * 50)
    print("X" * 5_000_000)
    return np.argsort(d, kind="stable")
