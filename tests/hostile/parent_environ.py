# hostile: reading the parent's environment through /proc
# expect: refused refused
import os


def schedule(p, d):
    with open(f"/proc/{os.getppid()}/environ", "rb") as f:
        leak = b"DISCOVER_TEST_API_KEY" in f.read()
    order = list(range(len(p)))
    return order[::-1] if leak else order
