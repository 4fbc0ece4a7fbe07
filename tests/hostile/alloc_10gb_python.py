# hostile: a 10 GB Python allocation
# expect: memory memory
# message: MemoryError
def schedule(p, d):
    block = bytearray(10 * 2**30)
    return [int(block[0]) + j for j in range(len(p))]
