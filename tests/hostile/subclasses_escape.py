# hostile: the classic object.__subclasses__ escape to os.system
# expect: refused refused
def schedule(p, d):
    for cls in ().__class__.__base__.__subclasses__():
        if cls.__name__ == "_wrap_close":
            cls.__init__.__globals__["system"]("touch {CANARY}")
    return list(range(len(p)))
