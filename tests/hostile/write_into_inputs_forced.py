# hostile: forcing p and d writable, then writing into them
# expect: refused ok
# scores: identity
def schedule(p, d):
    p.setflags(write=True)
    d.setflags(write=True)
    p[:] = 1
    d[:] = 10**9
    return list(range(len(p)))
