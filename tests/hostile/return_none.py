# hostile: returning None
# expect: invalid_output invalid_output
# message: returned None
def schedule(p, d):
    order = sorted(range(len(p)), key=lambda j: d[j])
    order.reverse()
