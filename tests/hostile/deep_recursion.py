# hostile: unbounded recursion
# expect: error error
# message: RecursionError
def depth(n):
    return depth(n + 1) + 1


def schedule(p, d):
    depth(0)
    return list(range(len(p)))
