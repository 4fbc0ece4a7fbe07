# hostile: writing a well-formed "all done, optimal" reply on every descriptor, then leaving
# expect: refused error
# message: import of|exited|frame
import json
import os
import struct


def schedule(p, d):
    n = len(p)
    head = json.dumps({"status": "ok", "done": 1, "nonce": "0" * 32}).encode()
    blob = struct.pack(f"<{n}q", *range(n)) + struct.pack("<d", 0.0)
    frame = struct.pack("<IQ", len(head), len(blob)) + head + blob
    for fd in range(3, 64):
        try:
            os.write(fd, frame)
        except OSError:
            pass
    os._exit(0)
