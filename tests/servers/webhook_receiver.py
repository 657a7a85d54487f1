#!/usr/bin/env python3
"""A webhook receiver for tests/webhook_job_test.cpp, on loopback only.

Listens on 127.0.0.1 on an ephemeral port and prints "PORT <n>" on stdout
(one line, flushed) once it accepts connections. Each request is recorded
as one JSON line in --record FILE *before* it is answered, so once a runner
has its answer (or gave up waiting), the request is in the file:

  {"method", "path", "headers": {lower-case name: value}, "body",
   "signature": {"t": int, "v1": [hex, ...], "valid": bool}}

"valid" says whether one of the v1 signatures is the HMAC-SHA256 of
"<t>.<body>" under one of the --secret values, computed here with Python's
hmac module (as a receiver would; docs/webhook-jobs.md shows the same code).

Answers follow --script FILE, a JSON array used in order (the last entry
repeats); each entry is an object:
  status          the HTTP status (default 200)
  headers         extra response headers
  body            the response body (a string; default "ok")
  retry_after_date_in  N: a Retry-After header with the HTTP date now + N s
  hang            true: never answer (until the client goes away)
  require_signature  true: answer 401 when the signature is not valid
Stopped by SIGTERM. With --cert and --key it speaks HTTPS only.
"""

import argparse
import email.utils
import hashlib
import hmac
import json
import signal
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def parse_signature(header, body, secrets):
    out = {"t": None, "v1": [], "valid": False}
    if not header:
        return out
    for part in header.split(","):
        key, _, value = part.partition("=")
        if key == "t":
            out["t"] = int(value) if value.isdigit() else None
        elif key == "v1":
            out["v1"].append(value)
    if out["t"] is None:
        return out
    signed = str(out["t"]).encode() + b"." + body
    for secret in secrets:
        expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        if any(hmac.compare_digest(expected, v) for v in out["v1"]):
            out["valid"] = True
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--script", required=True)
    parser.add_argument("--record", required=True)
    parser.add_argument("--secret", action="append", default=[])
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args()

    with open(args.script) as f:
        script = json.load(f)
    lock = threading.Lock()
    state = {"n": 0}
    record = open(args.record, "a", buffering=1)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *unused):
            pass

        def handle_any(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length) if length else b""
            signature = parse_signature(self.headers.get("Webhook-Signature"), body,
                                        args.secret)
            with lock:
                entry = script[min(state["n"], len(script) - 1)]
                state["n"] += 1
                record.write(json.dumps({
                    "method": self.command,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body.decode("utf-8", "replace"),
                    "signature": signature,
                }) + "\n")
                record.flush()
            if entry.get("hang"):
                # Never answer: wait until the client closes the connection.
                while self.rfile.read(1):
                    pass
                return
            status = entry.get("status", 200)
            if entry.get("require_signature") and not signature["valid"]:
                status = 401
            payload = entry.get("body", "ok").encode()
            self.send_response(status)
            for name, value in entry.get("headers", {}).items():
                self.send_header(name, value)
            if "retry_after_date_in" in entry:
                self.send_header("Retry-After", email.utils.formatdate(
                    time.time() + entry["retry_after_date_in"], usegmt=True))
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_POST = do_PUT = do_PATCH = do_GET = handle_any

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    signal.signal(signal.SIGTERM, lambda *unused: sys.exit(0))
    print("PORT", server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
