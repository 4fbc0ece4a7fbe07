# hostile: finding the request's nonce in the frames and claiming "stopped" after one instance
# expect: refused error
# message: import of|told to stop
import json
import os
import struct
import sys


def schedule(p, d):
    frame, nonce = sys._getframe(1), None
    while frame is not None and nonce is None:
        meta = frame.f_locals.get("meta")
        if isinstance(meta, dict) and "nonce" in meta:
            nonce = meta["nonce"]
        frame = frame.f_back
    head = json.dumps({"status": "stopped", "done": 0, "nonce": nonce}).encode()
    os.write(3, struct.pack("<IQ", len(head), 0) + head)
    os.close(3)
    while True:
        pass
