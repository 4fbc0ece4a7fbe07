# hostile: a forbidden module through __import__
# expect: refused refused
# message: __import__|system
def schedule(p, d):
    __import__("os").system("touch {CANARY}")
    return list(range(len(p)))
