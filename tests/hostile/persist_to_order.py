# hostile: replacing the runner's to_order through the frames, so any list passes as an order
# expect: refused invalid_output
# message: sys|appears|permutation
import sys


def schedule(p, d):
    frame = sys._getframe(1)
    while frame is not None:
        if "to_order" in frame.f_globals:
            frame.f_globals["to_order"] = lambda out, n: __import__("numpy").asarray(out, dtype="int64")
        frame = frame.f_back
    return [0] * len(p)
