"""The OpenAPI document tells the truth: schemathesis (`--checks all`) finds nothing against the real app.

The app is built by the factory and served by uvicorn on a free port, with a real `Verity` (embedding
model, spaCy, an embedded Chroma of its own in a temporary directory, the seed articles indexed), in
the two ways it can be deployed: open reads, and `auth_reads` (every read needs a key). Both have an
API key, which schemathesis sends, so writes (`POST`/`DELETE /v1/documents`) are exercised too; its
`ignored_auth` check sends requests without it and expects them refused exactly where the document
declares security. The rate limit is off so generated requests reach the logic behind it (its 429 and
`Retry-After` are covered by tests/service/test_limits.py).

The run is the schemathesis CLI, as a user would run it, with a fixed seed, deterministic generation
and a bounded number of examples per operation; its JSON report is what is asserted: no failure, no
error, every operation tested, every phase passed, and no warning but the one expected (see the
repository's `schemathesis.toml`, which a plain `schemathesis run` in the repository reads too). The
figures of each run land in `test-output/openapi-contract-<mode>.json`.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from pydantic import SecretStr

from index.loaders import load_documents
from service.answering.pipeline import Verity
from service.config import Settings
from service.http.app import create_app

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CONFIG = REPO / "schemathesis.toml"
KEY = "contract-test-key"
SEED = 20261201
MAX_EXAMPLES = 40  # per operation and phase; about 700 cases and 20 s a mode on 2 cores
RUN_TIMEOUT = 300
EXPECTED_WARNINGS = {"validation_mismatch": {"POST /v1/documents"}}  # see schemathesis.toml


@pytest.fixture(scope="module")
def own_verity(tmp_path_factory: pytest.TempPathFactory, seed_corpus: Path) -> Verity:
    """A `Verity` with a store of its own: the writes schemathesis makes never reach other tests."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("contract-data"), corpus_dir=seed_corpus)
    built = Verity(settings)
    built.index(load_documents(settings.corpus_dir), prune=True, progress=False)
    return built


class Served:
    """The app, built by the factory with `settings`, served by uvicorn in a thread on a free port."""

    def __init__(self, settings: Settings, verity: Verity) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(create_app(settings, verity=verity), log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            assert self.thread.is_alive() and time.monotonic() < deadline, "the server did not become healthy"
            time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()


def run_schemathesis(url: str, workdir: Path) -> tuple[dict[str, Any], str, float]:
    """`schemathesis run URL/openapi.json --checks all` with the key; its JSON report, output and time."""
    report = workdir / "report.json"
    command = [
        *(sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "run"),
        f"{url}/openapi.json",
        *("--checks", "all", "-H", f"Authorization: Bearer {KEY}"),
        *("--seed", str(SEED), "--generation-deterministic", "--max-examples", str(MAX_EXAMPLES)),
        *("--workers", "1", "--request-timeout", "60", "--no-color"),
        *("--report", "json", "--report-json-path", str(report)),
    ]
    started = time.monotonic()
    done = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    seconds = time.monotonic() - started
    output = done.stdout + done.stderr
    assert report.exists(), f"schemathesis wrote no report (exit {done.returncode}):\n{output[-6000:]}"
    return json.loads(report.read_text()), output, seconds


MODES = {
    "open-reads": {"auth_reads": False},
    "auth-reads": {"auth_reads": True},
}


@pytest.mark.parametrize("mode", list(MODES))
def test_schemathesis_finds_nothing(mode: str, own_verity: Verity, tmp_path: Path) -> None:
    settings = Settings(
        data_dir=own_verity.settings.data_dir,
        corpus_dir=own_verity.settings.corpus_dir,
        api_keys=[SecretStr(KEY)],
        rate_limit_per_minute=0,
        **MODES[mode],
    )
    with Served(settings, own_verity) as served:
        document = httpx.get(f"{served.url}/openapi.json").json()
        report, output, seconds = run_schemathesis(served.url, tmp_path)
    operations = sum(len(methods) for methods in document["paths"].values())
    figures = {
        "mode": mode,
        "schemathesis": report["schemathesis_version"],
        "seed": SEED,
        "max_examples": MAX_EXAMPLES,
        "operations": report["operations"],
        "test_cases": report["test_cases"],
        "failures": len(report["failures"]),
        "errors": len(report["errors"]),
        "seconds": round(seconds, 1),
    }
    out = REPO / "test-output"
    out.mkdir(exist_ok=True)
    (out / f"openapi-contract-{mode}.json").write_text(json.dumps(figures, indent=2) + "\n")
    tail = output[-8000:]
    assert report["failures"] == [] and report["errors"] == [], tail
    assert report["exit_code"] == 0 and report["complete"], tail
    assert report["operations"]["tested"] == report["operations"]["total"] == operations, report["operations"]
    assert {name: phase["status"] for name, phase in report["phases"].items()} == dict.fromkeys(
        ("examples", "coverage", "fuzzing", "stateful"), "success"
    ), report["phases"]
    warned = {name: set(where) for name, where in report["warnings"].items() if where}
    unexpected = {
        name: where - EXPECTED_WARNINGS.get(name, set())
        for name, where in warned.items()
        if where - EXPECTED_WARNINGS.get(name, set())
    }
    assert not unexpected, f"unexpected schemathesis warnings: {unexpected}\n{tail}"
    # a run that generated next to nothing would pass vacuously
    assert report["test_cases"]["generated"] >= 25 * operations, report["test_cases"]
