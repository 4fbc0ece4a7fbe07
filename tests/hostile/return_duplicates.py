# hostile: returning duplicate jobs
# expect: invalid_output invalid_output
# message: appears
def schedule(p, d):
    return [0] * len(p)
