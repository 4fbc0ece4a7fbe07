# hostile: writing into p and d to fake a zero tardiness (a real LLM did this)
# expect: error error
# message: read-only
def schedule(p, d):
    p[:] = 1
    d[:] = 10**9
    return list(range(len(p)))
