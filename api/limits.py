"""Refuse request bodies over a size limit (413) before anything parses them.

A plain ASGI middleware rather than Starlette's BaseHTTPMiddleware: it must see the body as it
streams. A declared Content-Length over the limit is refused at once; a body without one
(chunked) is counted while it is read and refused as soon as it passes the limit. The body is
then handed on whole — FastAPI reads it whole anyway.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.responses import dumps

DEFAULT_MAX_BODY = 5 * 1024 * 1024  # 5 MiB: about 10,000 events of ordinary size


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._too_large(send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: let the app see it
                await self.app(scope, _replay([message], receive), send)
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_bytes:
                await self._too_large(send)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        whole = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([whole], receive), send)

    async def _too_large(self, send: Send) -> None:
        limit = f"{self.max_bytes / (1024 * 1024):g} MiB"
        body = dumps(
            {
                "detail": f"request body is larger than {limit}: send at most 1000 events per request, "
                f"or import large files with `perfledger import`",
                "code": "too_large",
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # malformed: the server or the body count will deal with it
    return None


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that first hands out what was already read, then defers to the real one."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
