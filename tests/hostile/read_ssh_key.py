# hostile: reading a private key and leaking it through the score
# expect: refused refused
def schedule(p, d):
    key = ""
    for path in ("{SECRET}", "/root/.ssh/id_rsa", "/root/.ssh/id_ed25519"):
        try:
            with open(path) as f:
                key += f.read()
        except OSError:
            pass
    order = list(range(len(p)))
    return order[::-1] if key else order
