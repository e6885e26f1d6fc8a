#!/usr/bin/env python3
"""A real SMTP server for the email tests: aiosmtpd (PyPI) on 127.0.0.1, a port the OS picks.
Prints `PORT <n>` first, then appends every message it accepts to RECORD as one JSON line
(envelope from, recipients, the raw message, whether the session was encrypted).

  smtp_sink.py RECORD                      plain SMTP
  smtp_sink.py RECORD starttls CERT KEY    STARTTLS required before MAIL
  smtp_sink.py RECORD tls CERT KEY         TLS from the first byte
"""
import asyncio
import json
import ssl
import sys

from aiosmtpd.smtp import SMTP

record = sys.argv[1]
mode = sys.argv[2] if len(sys.argv) > 2 else "none"
ctx = None
if mode in ("starttls", "tls"):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(sys.argv[3], sys.argv[4])


class Handler:
    async def handle_DATA(self, server, session, envelope):
        with open(record, "a") as f:
            f.write(
                json.dumps(
                    {
                        "from": envelope.mail_from,
                        "to": envelope.rcpt_tos,
                        "data": envelope.content.decode("utf-8", "replace"),
                        # A `tls` listener speaks nothing but TLS; STARTTLS sets session.ssl.
                        "encrypted": mode == "tls" or session.ssl is not None,
                    }
                )
                + "\n"
            )
        return "250 Message accepted for delivery"


def factory():
    if mode == "starttls":
        return SMTP(Handler(), hostname="sink.test", tls_context=ctx, require_starttls=True)
    return SMTP(Handler(), hostname="sink.test")


async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, "127.0.0.1", 0, ssl=ctx if mode == "tls" else None)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    await server.serve_forever()


asyncio.run(main())
