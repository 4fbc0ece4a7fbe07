# hostile: rigging random's _randbelow for every later candidate in the same process
# expect: refused ok
# message: random
import random


def schedule(p, d):
    random.Random._randbelow = lambda self, n: 0
    random.Random._randbelow_with_getrandbits = lambda self, n: 0
    order = list(range(len(p)))
    random.shuffle(order)
    return order
