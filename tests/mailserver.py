"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps every message it receives and
counts the connections (EHLO/HELO) made to it."""

from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

from aiosmtpd.controller import Controller

from tests.conftest import free_port


class MailServer:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.raw: list[bytes] = []
        self.mail_options: list[list[str]] = []  # MAIL FROM parameters, e.g. BODY=8BITMIME
        self.connections = 0
        server = self

        class Handler:
            async def handle_EHLO(self, _server, session, _envelope, hostname, responses):  # type: ignore[no-untyped-def]
                server.connections += 1
                session.host_name = hostname
                return responses

            async def handle_DATA(self, _server, _session, envelope):  # type: ignore[no-untyped-def]
                server.raw.append(envelope.original_content or envelope.content)
                server.mail_options.append(envelope.mail_options)
                server.messages.append(message_from_bytes(envelope.content, policy=default))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> "MailServer":
        self.controller.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.controller.stop()
