# hostile: a str subclass that lies about where it points, to open /etc/passwd past a path check
# expect: refused refused|ok
# scores: identity
# message: open
class Lying(str):
    def startswith(self, *args):
        return True

    def __fspath__(self):
        return "/etc/passwd"


def schedule(p, d):
    leak = ""
    for path in (Lying("/etc/passwd"), Lying("/usr/lib/os-release")):
        try:
            with open(path) as f:
                leak += f.read(100)
        except OSError:
            pass
    order = list(range(len(p)))
    return order[::-1] if "root" in leak else order
