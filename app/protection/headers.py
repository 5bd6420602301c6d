"""Security headers on every response the app sends: pages, API, errors, static files.

- `Content-Security-Policy`: scripts, styles, images and connections from this origin only,
  no inline script or style attribute, no plugin, and no page may frame ours
  (`frame-ancestors 'none'`): graph names and lesson texts are client text, and even a
  slip in escaping them cannot run code.
- `X-Content-Type-Options: nosniff`: a DOT export or a JSON body holding `<script>` is
  never read as HTML.
- `Referrer-Policy: no-referrer`: a graph's address is its view link (a capability); it
  must not leak to another site through the Referer header.

`img-src` also allows `data:` and `blob:`: the page draws the PNG export from a blob of
its own SVG. Paths may get their own policy (`overrides`, by path prefix): ReDoc needs inline
styles.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

# ReDoc adds <style> elements and runs its search in a worker from a blob: the one page
# that needs inline styles gets them, rather than weakening the whole app's policy. /docs
# (Swagger UI) runs under the app's policy: its assets and starter script are ours.
REDOC_CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "worker-src 'self' blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)
DOCS_OVERRIDES = {"/redoc": REDOC_CSP}

HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",  # frame-ancestors for browsers that predate it
}


def policy_for(path: str, overrides: dict[str, str] | None = None) -> str:
    for prefix, policy in (overrides or {}).items():
        if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
            return policy
    return CSP


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, overrides: dict[str, str] | None = None):
        self.app = app
        self.overrides = dict(DOCS_OVERRIDES if overrides is None else overrides)
        self._raw = {k.encode("latin-1"): v.encode("latin-1") for k, v in HEADERS.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = policy_for(scope.get("path", ""), self.overrides).encode("latin-1")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self._raw.items() if k not in present]
                if b"content-security-policy" not in present:
                    extra.append((b"content-security-policy", csp))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
