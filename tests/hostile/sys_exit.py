# hostile: sys.exit
# expect: refused error
import sys


def schedule(p, d):
    sys.exit(0)
