# hostile: an infinite loop
# expect: timeout timeout
# message: timed out
def schedule(p, d):
    while True:
        pass
