"""A real SMTP server for the tests (aiosmtpd), keeping what it receives."""

from __future__ import annotations

import email
import email.policy
import re
import socket
import threading
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.box.lock:
            for recipient in envelope.rcpt_tos:
                self.box.messages.append((recipient.lower(), message))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, EmailMessage]] = []
        self.lock = threading.Lock()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for rcpt, m in self.messages if rcpt == address.lower()]

    def last_to(self, address: str) -> EmailMessage:
        found = self.to(address)
        assert found, f"no mail arrived for {address}"
        return found[-1]

    def token_in_last(self, address: str, parameter: str = "token") -> str:
        """The `?token=…` of the link in the newest mail to `address`."""
        body = self.last_to(address).get_body(("plain",))
        assert body is not None
        match = re.search(rf"[?&]{parameter}=([A-Za-z0-9_\-]+)", body.get_content())
        assert match, f"no {parameter} link in the mail to {address}"
        return match.group(1)
