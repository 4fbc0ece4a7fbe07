# hostile: raising SystemExit without importing sys
# expect: error error
# message: SystemExit
def schedule(p, d):
    raise SystemExit(0)
