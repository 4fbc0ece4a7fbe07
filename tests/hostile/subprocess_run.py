# hostile: subprocess touching a file
# expect: refused refused
import subprocess


def schedule(p, d):
    subprocess.run(["touch", "{CANARY}"])
    return list(range(len(p)))
