#!/usr/bin/env python3
"""A local HTTP receiver for the notification tests (tests/it/notify*.rs).

Listens on 127.0.0.1 (a free port the OS picks), prints `PORT <n>` on its first line, and
appends one JSON line per request to RECORD: method, path, headers, body (text), and for
webhooks whether the Standard Webhooks reference library (PyPI `standardwebhooks`) verified the
signature with the secret given by --whsec.

Answers follow --script, a comma-separated list used in order (the last one repeats):
  200 | 202 | 404 | 500 ...   that status
  429:N                       429 with `Retry-After: N`
  stall:S                     wait S seconds, then 200
  307:URL                     a redirect to URL
"""
import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("record")
parser.add_argument("--script", default="200")
parser.add_argument("--whsec", default=None)
args = parser.parse_args()

verifier = None
if args.whsec:
    from standardwebhooks.webhooks import Webhook  # the reference implementation

    verifier = Webhook(args.whsec)

script = args.script.split(",")
lock = threading.Lock()
count = [0]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def handle_any(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        with lock:
            n = count[0]
            count[0] += 1
        step = script[min(n, len(script) - 1)]
        rec = {
            "n": n,
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"),
            "answer": step,
            "t": time.time(),
        }
        if verifier is not None:
            try:
                verifier.verify(body, {k: v for k, v in self.headers.items()})
                rec["verified"] = True
            except Exception as e:  # noqa: BLE001 - record why
                rec["verified"] = False
                rec["verify_error"] = repr(e)
        with lock:
            with open(args.record, "a") as f:
                f.write(json.dumps(rec) + "\n")
        headers = {}
        if step.startswith("stall:"):
            time.sleep(float(step.split(":")[1]))
            status = 200
        elif step.startswith("307:"):
            status = 307
            headers["Location"] = step.split(":", 1)[1]
        elif step.startswith("429:"):
            status = 429
            headers["Retry-After"] = step.split(":")[1]
        else:
            status = int(step)
        out = b'{"ok":true}' if status < 300 else b'{"error":"scripted"}'
        try:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_POST = handle_any
    do_PUT = handle_any
    do_GET = handle_any


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(f"PORT {server.server_address[1]}", flush=True)
try:
    server.serve_forever()
except KeyboardInterrupt:
    sys.exit(0)
