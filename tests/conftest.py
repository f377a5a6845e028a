"""Shared fixtures: one real `Verity` (real embedding model, real embedded Chroma) per test session.

Building a `Verity` loads the embedding model and spaCy (several seconds), so `verity` is built once,
with the seed corpus indexed into a temporary data dir, and the HTTP `client` reuses it.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from local_site import Site, start_site

from index.loaders import load_documents
from service.answering.pipeline import Verity
from service.config import Settings
from service.http.app import create_app

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "seeds"


def wait_until_healthy(client: TestClient, timeout: float = 180.0) -> dict[str, object]:
    """Poll /healthz until it is 200 (the lifespan builds and warms up in a background thread)."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get("/healthz")
        if response.status_code == 200:
            body: dict[str, object] = response.json()
            return body
        assert response.status_code == 503, response.text
        assert response.json()["status"] == "starting", response.text
        if time.monotonic() > deadline:
            raise AssertionError(f"not healthy after {timeout}s: {response.text}")
        time.sleep(0.05)


@pytest.fixture(scope="session")
def wait_healthy() -> Callable[[TestClient], dict[str, object]]:
    """`wait_until_healthy`, for tests that start their own app."""
    return wait_until_healthy


def copy_seed_articles(target: Path) -> Path:
    """The seed articles (`seeds/*.txt`) alone: `seeds/` may also hold files that are not articles."""
    target.mkdir(parents=True, exist_ok=True)
    for article in sorted(SEEDS.glob("*.txt")):
        shutil.copyfile(article, target / article.name)
    return target


@pytest.fixture(scope="session")
def seed_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_seed_articles(tmp_path_factory.mktemp("seeds"))


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory, seed_corpus: Path) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("data"), corpus_dir=seed_corpus)


@pytest.fixture(scope="session")
def verity(settings: Settings) -> Verity:
    built = Verity(settings)
    built.index(load_documents(settings.corpus_dir), prune=True, progress=False)
    return built


@pytest.fixture(scope="session")
def client(settings: Settings, verity: Verity) -> Iterator[TestClient]:
    with TestClient(create_app(settings, verity=verity)) as test_client:
        wait_until_healthy(test_client)
        yield test_client


@pytest.fixture(scope="module")
def base_url(settings: Settings, verity: Verity) -> Iterator[str]:
    """A real uvicorn server in a thread, on a free port, serving the shared `Verity` (module-scoped)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(create_app(settings, verity=verity), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 180
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not become healthy"
        time.sleep(0.05)
    yield url
    server.should_exit = True
    thread.join(timeout=30)
    sock.close()


@pytest.fixture
def site() -> Iterator[Site]:
    """A real HTTP server on 127.0.0.1 serving saved pages and feeds (`tests/local_site.py`)."""
    served = start_site()
    try:
        yield served
    finally:
        served.server.shutdown()
        served.server.server_close()
