"""Response hardening: security headers on every answer, CORS (off unless configured), trusted proxies."""

from __future__ import annotations

from flask import Flask, Response, request
from werkzeug.middleware.proxy_fix import ProxyFix

from app.settings import Settings

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
HTML_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
CORS_METHODS = "GET, POST, PATCH, DELETE"
CORS_HEADERS = "Authorization, Content-Type, Idempotency-Key, Last-Event-ID"
CORS_EXPOSE = "Location, Retry-After"
CORS_MAX_AGE_S = "600"


def _security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
    # an HTML page (a dashboard) may load its own scripts and styles; an API answer may load nothing
    csp = HTML_CSP if response.mimetype == "text/html" else API_CSP
    headers.setdefault("Content-Security-Policy", csp)
    if request.path.startswith("/api/") or request.path.startswith("/@"):
        # job data, tokens and users must not sit in shared or browser caches
        headers.setdefault("Cache-Control", "no-store")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


class Cors:
    """Cross-origin access for the origins in JOBLINE_CORS_ORIGINS; none when unset (the default)."""

    def __init__(self, origins: tuple[str, ...]) -> None:
        self.origins = frozenset(origins)

    def allowed(self, origin: str | None) -> str | None:
        """The Access-Control-Allow-Origin value for `origin`, or None."""
        if not origin or not self.origins:
            return None
        if "*" in self.origins:
            return "*"
        return origin if origin in self.origins else None

    def preflight(self) -> Response | None:
        """before_request: answer an allowed browser preflight before auth (it carries no token)."""
        if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
            return None
        allow = self.allowed(request.headers.get("Origin"))
        if allow is None:
            return None  # not allowed: the request goes on to auth and gets 401 / 404 like any other
        response = Response(status=204)
        response.headers["Access-Control-Allow-Methods"] = CORS_METHODS
        response.headers["Access-Control-Allow-Headers"] = CORS_HEADERS
        response.headers["Access-Control-Max-Age"] = CORS_MAX_AGE_S
        return response

    def decorate(self, response: Response) -> Response:
        allow = self.allowed(request.headers.get("Origin"))
        if allow is not None:
            response.headers["Access-Control-Allow-Origin"] = allow
            response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSE
        if self.origins and "*" not in self.origins:
            response.vary.add("Origin")
        return response


def install(app: Flask, settings: Settings) -> None:
    """Register before the auth hook, so a CORS preflight is answered without credentials."""
    if settings.proxy_hops:
        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    cors = Cors(settings.cors_origins)
    if settings.cors_origins:
        app.before_request(cors.preflight)
        app.after_request(cors.decorate)
    app.after_request(_security_headers)
