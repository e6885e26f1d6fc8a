#!/usr/bin/env python3
"""A real SMTP server for the email tests: aiosmtpd (PyPI) on 127.0.0.1, a port the OS picks.
Prints `PORT <n>` first, then appends every message it accepts to RECORD as one JSON line
(envelope from, recipients, the raw message)."""
import asyncio
import json
import sys

from aiosmtpd.smtp import SMTP

record = sys.argv[1]


class Handler:
    async def handle_DATA(self, server, session, envelope):
        with open(record, "a") as f:
            f.write(
                json.dumps(
                    {
                        "from": envelope.mail_from,
                        "to": envelope.rcpt_tos,
                        "data": envelope.content.decode("utf-8", "replace"),
                    }
                )
                + "\n"
            )
        return "250 Message accepted for delivery"


async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(Handler(), hostname="sink.test"), "127.0.0.1", 0)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    await server.serve_forever()


asyncio.run(main())
