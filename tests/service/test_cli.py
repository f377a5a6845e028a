"""The `verity` CLI run in-process (`main([...])`) against a temporary data dir set through the
environment, as a user would configure it. Each `main()` builds a real `Verity`, so calls are few."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from service.cli import format_response, main
from service.schemas import AskResponse, Refusal

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


@pytest.fixture
def corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the seeds, and an empty data dir chosen with VERITY_DATA_DIR."""
    monkeypatch.setenv("VERITY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VERITY_CORPUS_DIR", str(tmp_path / "no-default-corpus"))
    corpus = tmp_path / "seeds"  # the articles only: seeds/ may also hold an eval set
    corpus.mkdir()
    for article in sorted(SEEDS.glob("*.txt")):
        shutil.copyfile(article, corpus / article.name)
    return corpus


def test_index_reindex_and_ask(corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["index", str(corpus)]) == 0
    first = capsys.readouterr().out
    assert "4 documents (4 written, 0 unchanged, 0 removed)" in first
    assert (tmp_path / "data" / "chroma").is_dir()

    assert main(["index", str(corpus)]) == 0
    assert "4 documents (0 written, 4 unchanged, 0 removed), 0 passages written" in capsys.readouterr().out

    assert main(["ask", "Who urged Trump to kill Soleimani after Iran shot down a U.S. drone?"]) == 0
    out = capsys.readouterr().out
    answer, _, sources = out.partition("\n\nSources:\n")
    assert "Bolton" in answer and "Pompeo" in answer and "[1]" in answer
    assert sources.startswith("[1] ") and " — “" in sources

    assert main(["ask", "--json", "What is the capital of Australia?"]) == 0  # a refusal is not a failure
    response = json.loads(capsys.readouterr().out)
    assert response["status"] == "refused"
    assert response["refusal"]["reason"] in ("out_of_scope", "insufficient_evidence")


def test_a_refusal_prints_its_reason_and_message() -> None:
    message = "The articles in this corpus do not cover this question, so Verity cannot answer it."
    refused = AskResponse(
        status="refused", answer=message, refusal=Refusal(reason="out_of_scope", message=message)
    )
    assert format_response(refused) == f"Refused (out_of_scope): {message}"


def test_index_of_a_missing_path_is_a_usage_error(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = corpus.parent / "nowhere"
    assert main(["index", str(missing)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{missing}: no such file or folder" in captured.err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2
    assert "COMMAND" in capsys.readouterr().err
