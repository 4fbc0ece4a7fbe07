# hostile: opening a socket to a local listener
# expect: refused refused
# message: socket|listdir
import socket


def schedule(p, d):
    s = socket.create_connection(("127.0.0.1", int("{PORT}")), timeout=1)
    s.sendall(b"exfiltrated")
    return list(range(len(p)))
