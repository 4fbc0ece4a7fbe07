# hostile: returning priorities (floats) instead of an order
# expect: invalid_output invalid_output
# message: float64
def schedule(p, d):
    return d / p
