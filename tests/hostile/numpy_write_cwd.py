# hostile: numpy writing a file into its working directory
# expect: refused refused
# message: savetxt|open
import numpy as np


def schedule(p, d):
    np.savetxt("scores.txt", p)
    return list(range(len(p)))
