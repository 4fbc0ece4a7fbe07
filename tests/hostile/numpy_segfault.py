# hostile: a segfault through numpy stride tricks (passes the static policy)
# expect: error error
# message: SIGSEGV
from numpy.lib.stride_tricks import as_strided


def schedule(p, d):
    wild = as_strided(p, shape=(4,), strides=(2**44,))
    return [int(x) for x in wild]
