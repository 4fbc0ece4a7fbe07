# hostile: writing a file
# expect: refused refused
# message: open
def schedule(p, d):
    with open("{CANARY}", "w") as f:
        f.write("pwned")
    return list(range(len(p)))
