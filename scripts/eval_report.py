"""Write docs/EVALUATION.md: the eval tables (shared dev set and the project's own set) and the
answerer's calibration curve, all measured in one run through the same pipeline as the API.

    .venv/bin/python scripts/eval_report.py        (or: make eval)
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from pathlib import Path

from calibrate import answerable_and_not, curve

from index.loaders import load_documents
from service import evaluation
from service.config import Settings
from service.pipeline import Verity

SETS = {"shared dev set (`seeds/eval-dev.jsonl`)": Path("seeds/eval-dev.jsonl"),
        "project eval set (`seeds/eval.jsonl`)": Path("seeds/eval.jsonl")}  # fmt: skip
OUT = Path("docs/EVALUATION.md")


def main() -> None:
    lines = [
        "# Evaluation",
        "",
        f"Written by `scripts/eval_report.py` (`make eval`) on {time.strftime('%Y-%m-%d')}, "
        f"Python {platform.python_version()}, {platform.machine()}, {_cpus()}. Extractive answerer, "
        "bundled embedding model, embedded Chroma. Scoring rules: the shared eval README "
        "(`service/evaluation.py` implements them; `../shared/eval/score.py` gives the same figures "
        "over HTTP).",
        "",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        verity = Verity(Settings(data_dir=Path(tmp)))
        verity.index(load_documents(Path("seeds")), progress=False)
        summaries = {name: evaluation.run(verity, evaluation.load_items(path)) for name, path in SETS.items()}
        names = list(summaries)
        lines += ["| figure | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        keys = list(next(iter(summaries.values())).summary())
        for key in keys:
            values = [summaries[n].summary()[key] for n in names]
            lines.append(f"| {key} | " + " | ".join("-" if v is None else str(v) for v in values) + " |")
        lines += ["", "Items the service got wrong:", ""]
        for name in names:
            wrong = [r for r in summaries[name].rows if not r["ok"]]
            lines.append(f"- {name}: " + (", ".join(f"`{r['id']}` ({r['got']})" for r in wrong) or "none"))
        items = answerable_and_not(list(SETS.values()))
        lines += [
            "",
            "## Calibration: refusing against answering",
            "",
            f"The answerer's two thresholds over a grid, on the {len(items)} answerable and unanswerable "
            "questions of both sets (no follow-ups). The defaults (`service/config.py`: min_sentence_score "
            f"{verity.settings.answer.min_sentence_score}, min_term_coverage "
            f"{verity.settings.answer.min_term_coverage}) keep false refusals low while refusing most "
            "unanswerable questions; most refusals come from the answer-type and absent-noun checks, which "
            "the thresholds do not move.",
            "",
            "| min_sentence_score | min_term_coverage | answer_accuracy | false_refusal "
            "| unanswerable_refused |",
            "|---|---|---|---|---|",
        ]
        for row in curve(verity, items):
            lines.append(
                f"| {row['min_score']:.2f} | {row['min_coverage']:.2f} | {row['answer_accuracy']:.3f} | "
                f"{row['false_refusal']:.3f} | {row['unanswerable_refused']:.3f} |"
            )
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT}")


def _cpus() -> str:
    try:
        info = Path("/proc/cpuinfo").read_text().splitlines()
        model = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.processor() or "unknown CPU"

    return f"{os.cpu_count()} × {model}"


if __name__ == "__main__":
    main()
