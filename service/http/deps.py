"""How routes reach the heavy objects the lifespan builds, without globals.

`create_app` puts one `AppState` on `app.state.verity_state`; the lifespan fills it in from a background
thread. Routes declare `verity: VerityDep` and get the ready `Verity`, or a 503 `not_ready` error while
it is still being built (or failed to build).

Dependencies are `async def`: each only reads the app's state, and FastAPI runs a plain `def` dependency
in its threadpool, a thread hop apiece (five a `/v1/ask`), each waiting its turn for the GIL on a busy
server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant

from service.config import Settings
from service.errors import BadRequest, NotReady

if TYPE_CHECKING:
    # Importing the pipeline takes seconds (torch, llama-index, spaCy); the server must listen first,
    # so only the startup thread imports it (see `app._start`).
    from service.answering.pipeline import Verity


@dataclass
class AppState:
    """Readiness of one app. `verity` is set only once it is built, the corpus indexed and warmed up."""

    verity: Verity | None = None
    error: str | None = None  # why startup failed, when it did

    @property
    def ready(self) -> bool:
        return self.verity is not None


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.verity_state
    return state


async def get_verity(request: Request) -> Verity:
    state = await get_state(request)
    if state.verity is None:
        if state.error is not None:
            raise NotReady(f"Verity failed to start: {state.error}")
        raise NotReady("Verity is starting (loading models and the index); try again shortly")
    return state.verity


async def get_settings(request: Request) -> Settings:
    """The app's own settings (`create_app(settings)`), which may differ from the shared pipeline's."""
    settings: Settings = request.app.state.settings
    return settings


async def strict_request(request: Request) -> None:
    """A 422 for what the route does not declare: query parameters (a typo such as `?qestion=` is an
    error, not silently ignored) and a body sent to a route that takes none (GET, DELETE). So the
    OpenAPI document's parameters and bodies are all a request may carry."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    declared = _query_names(dependant) if isinstance(dependant, Dependant) else set()
    unknown = sorted(set(request.query_params) - declared)
    if unknown:
        names = ", ".join(repr(name) for name in unknown)
        raise BadRequest(f"unknown query parameter{'s' if len(unknown) > 1 else ''}: {names}")
    if getattr(route, "body_field", None) is None and _has_body(request):
        raise BadRequest(f"{request.method} {request.url.path} takes no request body")


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length", "0").strip()
    return "transfer-encoding" in request.headers or (length.isdigit() and int(length) > 0)


def _query_names(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


StrictRequest = Depends(strict_request)
StateDep = Annotated[AppState, Depends(get_state)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
if TYPE_CHECKING:
    VerityDep = Annotated[Verity, Depends(get_verity)]
else:  # FastAPI reads this at import time; the dependency, not the annotation, supplies the object
    VerityDep = Annotated[Any, Depends(get_verity)]
