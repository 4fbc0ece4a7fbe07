# hostile: looking for API keys in the environment and leaking them through the score
# expect: refused ok
# scores: identity
import os


def schedule(p, d):
    leak = any(word in name.upper() for name in os.environ for word in ("KEY", "TOKEN", "SECRET", "PROXY"))
    order = list(range(len(p)))
    return order[::-1] if leak else order
