#!/usr/bin/python3
"""An SMTP relay for tests/mail_job_test.cpp, on loopback only (Debian's
python3-aiosmtpd).

Listens on 127.0.0.1 (on --port, default an ephemeral one) and prints
"PORT <n>" on stdout (one line, flushed) once it accepts connections. Each
message it accepts is stored in --dir *before* it answers 250, as two files:
  <n>.eml   the message exactly as received (after the SMTP dot-unstuffing)
  <n>.json  {"mail_from", "rcpt_tos", "tls": bool, "auth": login or null,
             "message": the message as Python's email package reads it
             (headers decoded: "subject", "from", "to", "cc", "reply_to",
             "date", "message_id", "mime_version", "content_type",
             "charset", "transfer_encoding"; "body", decoded), and
             "bare_lf": whether a line of it ended in LF without CR}
(the .json is renamed into place last: once it exists, both are complete).

Options:
  --cert, --key     offer STARTTLS with this certificate, and require it
                    before MAIL FROM
  --auth USER:PASS  require AUTH (PLAIN or LOGIN) with these credentials
  --reject ADDR     answer RCPT TO:<ADDR> with 550 (repeatable)
  --tempfail ADDR   answer RCPT TO:<ADDR> with 451 (repeatable)
Stopped by SIGTERM.
"""

import argparse
import asyncio
import email
import email.policy
import json
import logging
import os
import signal
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def parse(raw):
    m = email.message_from_bytes(raw, policy=email.policy.default)
    header = lambda name: None if m[name] is None else str(m[name])
    return {"subject": header("subject"), "from": header("from"), "to": header("to"),
            "cc": header("cc"), "reply_to": header("reply-to"), "date": header("date"),
            "message_id": header("message-id"), "mime_version": header("mime-version"),
            "content_type": m.get_content_type(), "charset": m.get_content_charset(),
            "transfer_encoding": header("content-transfer-encoding"),
            "body": m.get_content().replace("\r\n", "\n")}


class Handler:
    def __init__(self, args):
        self.dir = args.dir
        self.reject = set(a.lower() for a in args.reject)
        self.tempfail = set(a.lower() for a in args.tempfail)
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.reject:
            return "550 5.1.1 <%s>: Recipient address rejected: no such user" % address
        if address.lower() in self.tempfail:
            return "451 4.3.0 <%s>: try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        n = "%03d" % self.count
        with open(os.path.join(self.dir, n + ".eml"), "wb") as f:
            f.write(envelope.original_content or envelope.content)
        auth = session.auth_data
        if isinstance(auth, LoginPassword):
            auth = auth.login.decode()
        raw = envelope.original_content or envelope.content
        record = {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                  "tls": session.ssl is not None, "auth": auth,
                  "message": parse(raw), "bare_lf": b"\n" in raw.replace(b"\r\n", b"")}
        tmp = os.path.join(self.dir, n + ".json.tmp")
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(self.dir, n + ".json"))
        return "250 2.0.0 OK queued as %s" % n


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--auth")
    parser.add_argument("--reject", action="append", default=[])
    parser.add_argument("--tempfail", action="append", default=[])
    args = parser.parse_args()
    # A refused handshake (the tests' untrusted certificate) is logged with a
    # traceback by aiosmtpd; the tests read the runner's side.
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)

    handler = Handler(args)
    options = {"hostname": "localhost", "decode_data": False}
    if args.cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
        options.update(tls_context=context, require_starttls=True)
    if args.auth:
        user, _, password = args.auth.partition(":")

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword)
                  and auth_data.login.decode() == user
                  and auth_data.password.decode() == password)
            return AuthResult(success=ok, handled=False, auth_data=auth_data)

        options.update(authenticator=authenticator, auth_required=True,
                       auth_require_tls=bool(args.cert))

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(loop.create_server(
        lambda: SMTP(handler, loop=loop, **options), host="127.0.0.1", port=args.port))
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    port = server.sockets[0].getsockname()[1]
    sys.stdout.write("PORT %d\n" % port)
    sys.stdout.flush()
    loop.run_forever()
    server.close()


if __name__ == "__main__":
    main()
