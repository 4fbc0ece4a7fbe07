# hostile: a forbidden module through importlib
# expect: refused refused
import importlib


def schedule(p, d):
    importlib.import_module("subprocess").run(["touch", "{CANARY}"])
    return list(range(len(p)))
