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

from index.loaders import load_documents
from service import evaluation
from service.config import Settings
from service.pipeline import Verity

SCORES = [0.25, 0.30, 0.35, 0.40, 0.45, 0.50]
COVERAGES = [0.2, 0.3, 0.4, 0.5]


def main(paths: list[str]) -> None:
    files = [Path(p) for p in paths] or [Path("seeds/eval-dev.jsonl"), Path("seeds/eval.jsonl")]
    items = [
        it
        for f in files
        for it in evaluation.load_items(f)
        if it["kind"] in ("answer", "unanswerable") and not it.get("history")
    ]
    with tempfile.TemporaryDirectory() as tmp:
        verity = Verity(Settings(data_dir=Path(tmp)))
        verity.index(load_documents(Path("seeds")), progress=False)
        print(f"{len(items)} items from {', '.join(map(str, files))}")
        print("min_score  min_coverage  answer_accuracy  false_refusal  unanswerable_refused")
        for score in SCORES:
            for coverage in COVERAGES:
                verity.settings.answer.min_sentence_score = score
                verity.settings.answer.min_term_coverage = coverage
                s = evaluation.run(verity, items).summary()
                print(
                    f"{score:9.2f}  {coverage:12.2f}  {s['answer_accuracy']:15.3f}  "
                    f"{s['false_refusal']:13.3f}  {s['unanswerable_refused']:20.3f}"
                )


if __name__ == "__main__":
    main(sys.argv[1:])
