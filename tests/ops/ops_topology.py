"""Processes of the deployment topology for the ops tests: a real Chroma server (`chroma run`, shipped
with chromadb) that can be stopped and started again, the real app served by uvicorn in a thread on a
free loopback port, and helpers for `verity` subprocesses. Loopback only; every wait is bounded."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from service.config import Settings
from service.http.app import create_app

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "seeds"
BOLTON = "Who urged Trump to kill Soleimani after Iran shot down a U.S. drone?"
TIMEOUT = httpx.Timeout(60.0, connect=5.0)  # every client call is bounded: a hang fails, never blocks


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for(check: Any, timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll `check()` until it returns something truthy (exceptions count as not yet)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except Exception as exc:  # noqa: BLE001 - not yet
            last = exc
        else:
            if result:
                return result
            last = result
        time.sleep(interval)
    raise AssertionError(f"{what} not within {timeout}s (last: {last!r})")


class ChromaServer:
    """`chroma run --path PATH --port PORT` as a subprocess that can be stopped and started again."""

    def __init__(self, path: Path, log: Path) -> None:
        self.path = path
        self.port = free_port()
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def heartbeat(self) -> bool:
        return httpx.get(f"{self.url}/api/v2/heartbeat", timeout=2.0).status_code == 200

    def start(self, timeout: float = 60.0) -> None:
        assert self.process is None, "already running"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(BIN / "chroma"), "run", "--path", str(self.path), "--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        wait_for(self._up, timeout, f"the Chroma server on port {self.port}")

    def _up(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            tail = self.log.read_text(errors="replace")[-2000:]
            raise pytest.fail(f"chroma run exited with {self.process.returncode}:\n{tail}")
        return self.heartbeat()

    def stop(self) -> None:
        """Stop it as `docker stop` does: SIGTERM, then SIGKILL if it lingers."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


class ServedApp:
    """The real app (`create_app(settings)`, real lifespan) served by uvicorn in a thread."""

    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        self.app = create_app(settings)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn-ops", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()
        wait_for(lambda: self.server.started, 60, "uvicorn listening")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@dataclass
class Topology:
    chroma: ChromaServer
    api: ServedApp
    settings: Settings
    client: httpx.Client

    def ask(self, question: str, timeout: httpx.Timeout = TIMEOUT) -> httpx.Response:
        return self.client.post("/v1/ask", json={"question": question}, timeout=timeout)


def copy_seed_articles(target: Path) -> Path:
    """The seed articles (`seeds/*.txt`) alone, as the Docker image ships them."""
    target.mkdir(parents=True, exist_ok=True)
    for article in sorted(SEEDS.glob("*.txt")):
        shutil.copyfile(article, target / article.name)
    return target


def ops_settings(**overrides: Any) -> Settings:
    """Test settings; request limits the API may add are off (the load test is one client)."""
    values: dict[str, Any] = {"rate_limit_per_minute": 0, "log_level": "warning"}
    values.update(overrides)
    return Settings(**values)


def subprocess_env(**verity: str) -> dict[str, str]:
    """The environment of a `verity` subprocess: this one's, without any VERITY_* leaking in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERITY_")}
    env.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    env.update({f"VERITY_{k.upper()}": v for k, v in verity.items()})
    return env


@contextlib.contextmanager
def reaped(process: subprocess.Popen[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    """Never leave a subprocess behind, whatever the test does."""
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
