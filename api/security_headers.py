"""Headers every response carries, whatever route made it: `X-Content-Type-Options: nosniff` on
all, and on every HTML page (a statement, a subject-access export, the API's docs) a
Content-Security-Policy that loads nothing from elsewhere and lets no other site frame it. A
route that sets its own policy (the dashboard, /docs with its one inline script) keeps it.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HTML_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)


def csp_allowing_inline_scripts_of(html: str) -> str:
    """HTML_CSP, with the page's own inline scripts allowed by their hashes (and no others)."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'"
        for body in _INLINE_SCRIPT.findall(html)
    )
    return HTML_CSP.replace("script-src 'self'", f"script-src 'self' {hashes}".rstrip())


class SecurityHeaders:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _added(list(message.get("headers", [])))
            await send(message)

        await self.app(scope, receive, with_headers)


def _added(headers: list[Any]) -> list[Any]:
    names = {bytes(name).lower() for name, _ in headers}
    content_type = next((bytes(value) for name, value in headers if bytes(name).lower() == b"content-type"), b"")
    if b"x-content-type-options" not in names:
        headers.append((b"x-content-type-options", b"nosniff"))
    if content_type.startswith(b"text/html"):
        if b"content-security-policy" not in names:
            headers.append((b"content-security-policy", HTML_CSP.encode()))
        if b"x-frame-options" not in names:
            headers.append((b"x-frame-options", b"DENY"))
        if b"referrer-policy" not in names:
            headers.append((b"referrer-policy", b"no-referrer"))
    return headers
