"""One exception tree. Each error carries its HTTP status and a machine-readable code;
`service/http/handlers.py` maps them to JSON responses in one handler, so adapters (HTTP, CLI) never
guess a status."""

from __future__ import annotations


class VerityError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers  # extra response headers (WWW-Authenticate, Retry-After)


class BadRequest(VerityError):
    status = 422
    code = "invalid_request"


class NotFound(VerityError):
    status = 404
    code = "not_found"


class NotReady(VerityError):
    status = 503
    code = "not_ready"


class StoreUnavailable(VerityError):
    status = 503
    code = "store_unavailable"


class ConfigError(VerityError):
    status = 500
    code = "configuration_error"


class Unauthorized(VerityError):
    """No API key, or not a Bearer one (service/http/auth.py)."""

    status = 401
    code = "unauthorized"


class Forbidden(VerityError):
    """A wrong API key, or writes with no keys configured (service/http/auth.py)."""

    status = 403
    code = "forbidden"


class RateLimited(VerityError):
    """Too many requests from one client (service/http/limits.py); carries Retry-After."""

    status = 429
    code = "rate_limited"


class FetchFailed(VerityError):
    """Every URL of a `POST /v1/documents` request failed (404, timeout, not HTML, too big, disallowed by
    robots.txt, no article text); with some written, each failure is reported on its item instead."""

    status = 422
    code = "fetch_failed"
