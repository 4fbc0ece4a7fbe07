# hostile: leaving an object in numpy whose finaliser would run inside the next candidate
# expect: refused refused
# message: __dict__|_haunt
import numpy as np


class Haunt:
    def __del__(self):
        with open("{CANARY}", "w") as f:
            f.write("ran in a later candidate")


def schedule(p, d):
    if "_haunt" not in np.__dict__:
        np.__dict__["_haunt"] = Haunt()
    return np.argsort(d, kind="stable")
