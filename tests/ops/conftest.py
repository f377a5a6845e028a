"""The deployment topology as processes: a real Chroma server and the real app pointed at it.

This is what `docker-compose.yml` runs (api + chroma), minus Docker, which cannot run on these machines.
One topology serves the whole `tests/ops` session: the app loads its models once, and its lifespan
indexes the seed articles into the empty Chroma collection, exactly as a fresh `api` container does.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from ops_topology import (
    TIMEOUT,
    ChromaServer,
    ServedApp,
    Topology,
    copy_seed_articles,
    ops_settings,
    wait_for,
)


@pytest.fixture(scope="session")
def chroma(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """One `chroma run` for the session (tests that stop it start it again)."""
    root = tmp_path_factory.mktemp("chroma")
    server = ChromaServer(root / "data", root / "chroma.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def topology(tmp_path_factory: pytest.TempPathFactory, chroma: ChromaServer) -> Iterator[Topology]:
    root = tmp_path_factory.mktemp("topology")
    settings = ops_settings(
        chroma_url=chroma.url,
        data_dir=root / "data",  # unused with a Chroma server; a stray embedded store would land here
        corpus_dir=copy_seed_articles(root / "seeds"),
        collection="verity",
    )
    api = ServedApp(settings)
    try:
        api.start()
        with httpx.Client(base_url=api.url, timeout=TIMEOUT) as client:

            def ready() -> bool:
                health = client.get("/healthz", timeout=5.0)
                if health.status_code != 200 and health.json().get("status") == "unavailable":
                    pytest.fail(f"the app failed to start: {health.text}")
                return health.status_code == 200

            wait_for(ready, 300, "the app ready (models loaded, seeds indexed into the server)", 0.25)
            yield Topology(chroma, api, settings, client)
    finally:
        api.stop()
        assert not (root / "data" / "chroma").exists(), "the app used an embedded store, not the server"
