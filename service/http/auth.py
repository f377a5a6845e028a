"""API keys: who may write to the corpus, and (when `auth_reads` is on) who may read it.

Keys come from `VERITY_API_KEYS` (comma-separated) and are sent as `Authorization: Bearer <key>`.
Writes are never open by default: with no key configured they are refused, saying how to enable them.
No key (or another scheme) is a 401 with `WWW-Authenticate: Bearer`; a wrong key — or any key while none
is configured — is a 403.
Keys are compared in constant time; the key itself never appears in logs or metrics (`client_id` hashes
it), so rate limits can count per key without storing it.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.config import Settings
from service.errors import Forbidden, Unauthorized

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="api_key",
    description="A key from `VERITY_API_KEYS`. Always required for writes; for reads only with "
    "`VERITY_AUTH_READS=true`.",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def presented_key(request: Request) -> str | None:
    """The Bearer token of the request, if it sent one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def is_valid_key(settings: Settings, key: str) -> bool:
    """Whether `key` is one of the configured keys (every key is compared, in constant time)."""
    given = key.encode()
    matches = [secrets.compare_digest(given, k.get_secret_value().encode()) for k in settings.api_keys]
    return any(matches)


def key_fingerprint(key: str) -> str:
    """A short, non-reversible name for a key (for rate-limit buckets and logs)."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def _check(settings: Settings, credentials: HTTPAuthorizationCredentials | None, what: str, off: str) -> None:
    """401 without a Bearer key, 403 with a wrong one — or with any while no key is configured (`off`
    says so; it is in the 401 too, so a client learns at once that no key can work)."""
    if credentials is None:
        hint = f" ({off})" if not settings.api_keys else ""
        raise Unauthorized(f"{what} require an API key: send `Authorization: Bearer <key>`{hint}", _CHALLENGE)
    if not settings.api_keys:
        raise Forbidden(off)
    if not is_valid_key(settings, credentials.credentials):
        raise Forbidden("the API key is not valid")


async def require_writer(request: Request, credentials: Credentials) -> None:
    """Dependency of the write routes: a valid key, always (no key configured: writes are off)."""
    off = "writes are disabled: no API keys are configured (set VERITY_API_KEYS to enable them)"
    _check(_settings(request), credentials, "writes", off)


async def require_reader(request: Request, credentials: Credentials) -> None:
    """Dependency of the read routes: nothing unless `auth_reads` is on, then a valid key."""
    settings = _settings(request)
    if settings.auth_reads:
        off = "reads require an API key (VERITY_AUTH_READS) but VERITY_API_KEYS sets none"
        _check(settings, credentials, "reads", off)


WriterAuth = Depends(require_writer)
ReaderAuth = Depends(require_reader)
