# hostile: returning too few jobs
# expect: invalid_output invalid_output
# message: returned 7 indices for 8 jobs
def schedule(p, d):
    return list(range(len(p) - 1))
