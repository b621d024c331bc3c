"""The API's last line of defence: an exception that escapes a route is one log line and a JSON 500."""
from __future__ import annotations

import logging

from fastapi.responses import JSONResponse

log = logging.getLogger("babycry_core.serving.api")


def one_line(e: BaseException) -> str:
    """An exception as one line: its type and its message's lines joined."""
    text = " ".join(ln.strip() for ln in str(e).splitlines() if ln.strip())
    return f"{type(e).__name__}: {text}" if text else type(e).__name__

class NoTraceback:
    """ASGI middleware: an exception that escapes a route is one log line and a JSON 500, never a traceback."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def tracked(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as e:
            log.error("%s %s failed: %s", scope.get("method"), scope.get("path"), one_line(e)[:300])
            if not started:
                await JSONResponse({"error": "Internal error while answering (logged on the server).",
                                    "reason": "internal"}, 500)(scope, receive, send)
