# hostile: a module-level return (compiles only as a function body)
# expect: error error
# message: line 6: SyntaxError: 'return' outside function
def schedule(p, d):
    return list(range(len(p)))
return None  # noqa: F706 - the point of this program
