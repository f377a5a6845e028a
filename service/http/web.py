"""The web chat page: `GET /` and its three static files, served by the app itself.

The page is plain HTML, CSS and JavaScript in `service/http/static/` (no build step, no CDN, no external
font), so it works offline and from an installed wheel (`package-data`). It is a thin adapter like the others:
everything it shows comes from the public API (`POST /v1/ask` in its streaming mode, `GET /v1/documents`).
A strict Content-Security-Policy keeps the page from loading or running anything but its own files.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from service.errors import NotFound

STATIC_DIR = Path(__file__).resolve().parent / "static"

_MEDIA_TYPES = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
}

router = APIRouter(include_in_schema=False)


@router.get("/")
def index() -> FileResponse:
    """The chat page."""
    headers = {**_HEADERS, "Content-Security-Policy": _CSP, "Referrer-Policy": "no-referrer"}
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8", headers=headers)


@router.get("/static/{name}")
def static_file(name: str) -> FileResponse:
    """One of the page's own files; anything else is a 404 (no directory listing, no path traversal)."""
    media_type = _MEDIA_TYPES.get(name)
    if media_type is None:
        raise NotFound(f"no static file named {name!r}")
    return FileResponse(STATIC_DIR / name, media_type=media_type, headers=_HEADERS)
