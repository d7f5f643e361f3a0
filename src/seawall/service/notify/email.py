"""Email over SMTP: one plain-text mail per message.

    {name: mail, type: email, host: smtp.example, port: 587, tls: starttls|ssl|none,
     username: seawall, password_env: SMTP_PASSWORD, from: seawall@example.com, to: [soc@example.com],
     timeout: 15, ca_file: /etc/ssl/private-ca.pem}

STARTTLS and SMTPS verify the server's certificate (the system CAs, or `ca_file`); `tls: none`
is for a relay on localhost. Header values are single lines (the subject is cleaned and capped).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from seawall.core.errors import InputError
from seawall.core.text import printable
from seawall.service.notify import DeliveryError
from seawall.service.notify.config import secret
from seawall.service.notify.message import as_text


class EmailChannel:
    type = "email"

    def __init__(self, spec: dict[str, Any]) -> None:
        self.name = str(spec["name"])
        where = f"notifications: channel {self.name}"
        self.host = str(spec.get("host") or "")
        if not self.host:
            raise InputError(f"{where}: host is required")
        self.tls = str(spec.get("tls", "starttls"))
        if self.tls not in ("starttls", "ssl", "none"):
            raise InputError(f"{where}: tls must be starttls, ssl or none")
        self.port = int(spec.get("port") or (465 if self.tls == "ssl" else 587))
        self.username = secret(spec, "username", where)
        self.password = secret(spec, "password", where)
        self.sender = str(spec.get("from") or "")
        to = spec.get("to") or []
        self.to = [str(t) for t in ([to] if isinstance(to, str) else to)]
        if not self.sender or not self.to:
            raise InputError(f"{where}: from and to are required")
        self.timeout = float(spec.get("timeout", 15))
        self.ca_file = str(spec["ca_file"]) if spec.get("ca_file") else None

    def target(self) -> str:
        return f"smtp://{self.host}:{self.port} -> {', '.join(self.to)}"

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    def send(self, message: dict[str, Any], delivery_id: str) -> None:
        mail = EmailMessage()
        mail["Subject"] = printable("[seawall] " + message["text"])[:200]
        mail["From"] = self.sender
        mail["To"] = ", ".join(self.to)
        mail["Message-ID"] = make_msgid(idstring=f"seawall-{delivery_id}")
        mail["X-Seawall-Delivery"] = delivery_id
        mail["X-Seawall-Event"] = str(message.get("event", ""))
        mail.set_content(as_text(message))
        try:
            if self.tls == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=self._context()
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with smtp:
                if self.tls == "starttls":
                    smtp.starttls(context=self._context())
                if self.username and self.password:
                    smtp.login(self.username, self.password)
                smtp.send_message(mail)
        except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
            raise DeliveryError(f"SMTP {self.host}:{self.port}: {type(exc).__name__}: {exc}"[:300]) from None
