"""Print the answerer's trade-off between refusing and answering, for a grid of its two thresholds.

    .venv/bin/python scripts/calibrate.py [EVAL.jsonl ...]   (default: seeds/eval-dev.jsonl seeds/eval.jsonl)

For each (min_sentence_score, min_term_coverage) it runs the answerable and unanswerable questions
(no follow-ups) through the real pipeline and prints answer accuracy, false refusals and unanswerable
refusals. The defaults in service/config.py were chosen from this table: the highest unanswerable-refusal
rate whose false-refusal rate stays at or below 0.05 on the dev set.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from index.loaders import load_documents
from service import evaluation
from service.config import Settings
from service.pipeline import Verity

SCORES = [0.25, 0.30, 0.35, 0.40, 0.45, 0.50]
COVERAGES = [0.2, 0.3, 0.4, 0.5]


def curve(verity: Verity, items: list[dict[str, Any]]) -> list[dict[str, float]]:
    """One row per threshold pair: answer accuracy, false refusals, unanswerable refusals."""
    rows = []
    original = verity.settings.answer.model_copy()
    try:
        for score in SCORES:
            for coverage in COVERAGES:
                verity.settings.answer.min_sentence_score = score
                verity.settings.answer.min_term_coverage = coverage
                s = evaluation.run(verity, items).summary()
                rows.append(
                    {
                        "min_score": score,
                        "min_coverage": coverage,
                        "answer_accuracy": s["answer_accuracy"] or 0.0,
                        "false_refusal": s["false_refusal"] or 0.0,
                        "unanswerable_refused": s["unanswerable_refused"] or 0.0,
                    }
                )
    finally:
        verity.settings.answer = original
    return rows


def answerable_and_not(files: list[Path]) -> list[dict[str, Any]]:
    kinds = ("answer", "unanswerable")
    return [
        it for f in files for it in evaluation.load_items(f) if it["kind"] in kinds and not it.get("history")
    ]


def main(paths: list[str]) -> None:
    files = [Path(p) for p in paths] or [Path("seeds/eval-dev.jsonl"), Path("seeds/eval.jsonl")]
    items = answerable_and_not(files)
    with tempfile.TemporaryDirectory() as tmp:
        verity = Verity(Settings(data_dir=Path(tmp)))
        verity.index(load_documents(Path("seeds")), progress=False)
        print(f"{len(items)} items from {', '.join(map(str, files))}")
        print("min_score  min_coverage  answer_accuracy  false_refusal  unanswerable_refused")
        for row in curve(verity, items):
            print(
                f"{row['min_score']:9.2f}  {row['min_coverage']:12.2f}  {row['answer_accuracy']:15.3f}  "
                f"{row['false_refusal']:13.3f}  {row['unanswerable_refused']:20.3f}"
            )


if __name__ == "__main__":
    main(sys.argv[1:])
