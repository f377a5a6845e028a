"""The whole answering path on `make train`'s held-out months: compose and respond as served, scored as
news dev is.

`make train`'s own figures (models/README.md) score the reader alone: its best sentence and that sentence's
span. What a user reads is the composed answer (the best sentence, another source's different answer, the
sentence a shown one leans on) and the short answer chosen among its first two sentences, so a change to
the composer or the responder is measured here, on training data, before it is measured on news dev.

Each of `make train`'s five folds of months is answered by a reader fitted (with `train_reader.train`, the
model kinds `models/reader.json` records) on the other four; its questions are then composed and responded
to by the serving classes (`ExtractiveComposer`, `Responder`) and scored by `service/evaluation.py`'s
rules (score.py's). A question counts as answerable when one of its candidate sentences holds the gold
answer (`make train`'s labels); the others should be refused.

Figures, of the answerable questions: lead (the gold answer within the answer's first two sentences),
short (within the short answer), false refusals; of those answered with a quiz's wrong choices: wrong
asserted (a wrong choice among the first two sentences, the answer not); of the others: refused.
`make heldout` (about 6 minutes with `make train`'s cache; never reads ../shared/news/dev).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import train_reader  # noqa: E402

from service.answering.compose import ExtractiveComposer  # noqa: E402
from service.answering.reader import Reader, ReaderModel  # noqa: E402
from service.answering.respond import Responder, shown_sentences  # noqa: E402
from service.config import Settings  # noqa: E402
from service.evaluation import group_hit, has  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "news" / "train")
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "reader.json", help="its kinds are used")
    ap.add_argument("--cache", type=Path, default=ROOT / "test-output" / "train-cache")
    ap.add_argument("--passages", type=int, default=6, help="as make train: BM25 passages per question")
    ap.add_argument("--limit", type=int, default=0, help="first N questions only (a quick trial)")
    args = ap.parse_args()
    kinds = ReaderModel.load(args.model).card.get("kinds", {})
    chosen = (kinds.get("sentence", "blend"), kinds.get("span", "grouped"))

    items, parser, embedder, _, _ = train_reader.prepare(args)
    settings = Settings()
    counts = dict.fromkeys(
        ("answerable", "lead", "short", "quizzed", "wrong", "refused", "unanswerable", "unrefused"), 0
    )
    folds = train_reader.month_folds(items)
    for fold, (model, held) in enumerate(
        train_reader.held_out_models(items, folds, parser, embedder, chosen), start=1
    ):
        reader = Reader(model, parser, embedder)
        composer, responder = ExtractiveComposer(parser, settings.answer, reader), Responder(reader)
        for it in held:
            question, candidates, corpus = it["question"], it["candidates"], it["corpus"]
            reader.score(question, candidates, corpus, it["scope"])
            response = responder.answer(question, composer.compose(question, candidates, corpus), corpus)
            refused = response.status == "refused"
            if not any(it["labels"]):
                counts["unanswerable"] += 1
                counts["unrefused"] += int(refused)
                continue
            must = it["q"]["must"][:1]  # the group make train labels by
            lead = " ".join(shown_sentences(response)[:2])
            right = not refused and all(group_hit(lead, g) for g in must)
            short = response.short_answer.text if response.short_answer else ""
            wrong = [w for w in it["q"].get("wrong") or [] if len(w) > 2]
            counts["answerable"] += 1
            counts["lead"] += int(right)
            counts["short"] += int(not refused and all(group_hit(short, g) for g in must))
            if not refused and wrong:  # as score.py: of the answered questions with wrong choices
                counts["quizzed"] += 1
                counts["wrong"] += int(not right and any(has(lead, w) for w in wrong))
            counts["refused"] += int(refused)
        train_reader.log(f"fold {fold} of {len(folds)} done; so far {json.dumps(counts)}")
    n, m = max(counts["answerable"], 1), max(counts["unanswerable"], 1)
    figures = {
        "answerable_questions": counts["answerable"],
        "lead_accuracy": round(counts["lead"] / n, 3),
        "short_answer_accuracy": round(counts["short"] / n, 3),
        "wrong_asserted": round(counts["wrong"] / max(counts["quizzed"], 1), 3),
        "false_refusal": round(counts["refused"] / n, 3),
        "unanswerable_questions": counts["unanswerable"],
        "unanswerable_refused": round(counts["unrefused"] / m, 3),
    }
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
