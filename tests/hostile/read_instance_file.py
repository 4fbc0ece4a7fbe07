# hostile: reading a stored set with its optima from the project directory (an answer key)
# expect: refused refused|ok
# scores: identity
# message: open
def schedule(p, d):
    key = ""
    try:
        with open("{ANSWERS}") as f:
            key = f.read(1000)
    except OSError:
        pass
    order = list(range(len(p)))
    return order[::-1] if key else order
