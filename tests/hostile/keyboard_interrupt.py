# hostile: KeyboardInterrupt
# expect: error error
# message: KeyboardInterrupt
def schedule(p, d):
    raise KeyboardInterrupt
