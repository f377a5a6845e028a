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
