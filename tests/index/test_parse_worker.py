"""The parse worker process (`index.analysis.ParseWorker`): the analyses `Analyzer.analyse` gives, in the
order batches were submitted, and a clear error when the worker is gone."""

from __future__ import annotations

import pytest

from index.analysis import ParseWorker
from service.answering.pipeline import Verity

TEXTS = [
    "The Philadelphia Eagles beat the Kansas City Chiefs 40-22 in New Orleans on Sunday.",
    "Officials in Vanuatu said the 7.3 magnitude earthquake damaged buildings in Port Vila.",
    "Ein Satz mit Umlauten: Grüße aus Köln — and quotes “like these”.",
]


def test_the_worker_gives_the_analyses_of_this_process_batch_by_batch(verity: Verity) -> None:
    worker = ParseWorker(verity.analyzer.model)
    try:
        first, second = worker.submit(TEXTS[:2]), worker.submit(TEXTS[2:])
        assert first.result(timeout=120) == verity.analyzer.analyse(TEXTS[:2])
        assert second.result(timeout=120) == verity.analyzer.analyse(TEXTS[2:])
    finally:
        worker.close()


def test_a_worker_that_cannot_start_fails_the_batches_with_a_clear_error() -> None:
    worker = ParseWorker("no_such_spacy_model")
    try:
        with pytest.raises(RuntimeError, match="parse worker stopped"):
            worker.submit(["A sentence."]).result(timeout=120)
    finally:
        worker.close()


def test_a_parser_given_a_worker_parses_questions_there_as_this_process_would(verity: Verity) -> None:
    """`verity serve` parses what requests bring in a worker (`Parser.use_worker`): the same analyses."""
    from service.answering.text import Parser

    parser = Parser(verity.analyzer)
    parser.use_worker(ParseWorker(verity.analyzer.model))
    try:
        for text in TEXTS:
            assert verity.analyzer.dumps(parser(text)) == verity.analyzer.analyse([text])[0]
    finally:
        parser.close()


def test_a_parser_whose_worker_fails_parses_in_this_process_from_then_on(
    verity: Verity, caplog: pytest.LogCaptureFixture
) -> None:
    from service.answering.text import Parser

    parser = Parser(verity.analyzer)
    parser.use_worker(ParseWorker("no_such_spacy_model"))
    try:
        assert verity.analyzer.dumps(parser(TEXTS[0])) == verity.analyzer.analyse([TEXTS[0]])[0]
        assert "parse worker failed" in caplog.text
        assert verity.analyzer.dumps(parser(TEXTS[1])) == verity.analyzer.analyse([TEXTS[1]])[0]
    finally:
        parser.close()
