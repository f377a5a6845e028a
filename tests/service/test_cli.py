"""The `verity` CLI run in-process (`main([...])`) against a temporary data dir set through the
environment, as a user would configure it. Each `main()` builds a real `Verity`, so calls are few."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

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


def test_eval_on_an_empty_index_says_to_index_first(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Scored against an empty index every question would be refused: no table of meaningless figures."""
    assert main(["eval", str(SEEDS / "eval-dev.jsonl")]) == 1
    out = capsys.readouterr()
    assert "is empty; run `verity index` first" in out.err and "answer_accuracy" not in out.out


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


PAGES = Path(__file__).resolve().parents[1] / "index" / "pages"


def test_extract_prints_documents_as_the_indexer_stores_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "pages"
    folder.mkdir()
    shutil.copyfile(PAGES / "harbour-wall.html", folder / "harbour-wall.html")
    shutil.copyfile(SEEDS / "000_4363cc3bb3304894.txt", folder / "000_4363cc3bb3304894.txt")
    assert main(["extract", str(folder)]) == 0
    seed, wall = json.loads(capsys.readouterr().out)  # in name order
    assert list(wall) == ["id", "title", "author", "published", "url", "source", "text"]
    assert (wall["id"], wall["author"], wall["published"], wall["source"]) == (
        "harbour-wall",
        "Jane Roe",
        "2024-03-05",
        "Harbour Times",
    )
    assert wall["text"].startswith("The city council voted 7-2 on Tuesday")
    assert seed["id"] == "000_4363cc3bb3304894" and seed["published"] is None

    from index.loaders import load_documents

    stored = {d.id: d for d in load_documents(folder)}  # exactly what `verity index` stores
    assert wall["text"] == stored["harbour-wall"].text and wall["title"] == stored["harbour-wall"].title


def test_extract_jsonl_reports_a_failing_file_and_prints_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copyfile(PAGES / "login.html", tmp_path / "login.html")
    shutil.copyfile(PAGES / "ferry-strike.html", tmp_path / "ferry.html")
    assert main(["extract", "--jsonl", str(tmp_path / "login.html"), str(tmp_path / "ferry.html")]) == 1
    captured = capsys.readouterr()
    (line,) = captured.out.splitlines()
    assert json.loads(line)["id"] == "ferry"
    assert "login.html: document 'login' has no article text left after cleaning [no_text]" in captured.err


def test_extract_without_input_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["extract"]) == 2
    assert "give a PATH, a URL or --urls FILE" in capsys.readouterr().err


def test_index_urls_reports_failures_keeps_their_stored_version_and_reruns_unchanged(
    corpus: Path, tmp_path: Path, site: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    site.page("/news/sea-wall.html", "harbour-wall.html")
    site.page("/news/ferry-strike.html", "ferry-strike.html")
    urls = tmp_path / "urls.txt"
    urls.write_text(
        f"{site.url('/news/sea-wall.html')}\n{site.url('/news/ferry-strike.html')}\n{site.url('/gone')}\n"
    )
    assert main(["index", "--urls", str(urls)]) == 1  # one URL failed: reported, the rest indexed
    captured = capsys.readouterr()
    assert "2 documents (2 written, 0 unchanged, 0 removed)" in captured.out and "1 failed" in captured.out
    assert f"{site.url('/gone')}: HTTP 404 [not_found]" in captured.err

    del site.routes["/news/ferry-strike.html"]  # now that one fails too: its stored version stays
    assert main(["index", "--urls", str(urls)]) == 1
    captured = capsys.readouterr()
    assert "1 documents (0 written, 1 unchanged, 0 removed)" in captured.out and "2 failed" in captured.out
    assert main(["extract", "--jsonl", "--urls", str(urls)]) == 1
    assert len(capsys.readouterr().out.splitlines()) == 1
