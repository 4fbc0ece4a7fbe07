# hostile: changing numpy's type table in place, for the candidates after it
# expect: refused refused
# message: read-only|sctypeDict
import numpy as np


def schedule(p, d):
    np.sctypeDict["int64"] = np.float32
    np.sctypeDict["float64"] = np.float32
    return np.argsort(d, kind="stable")
