"""Write docs/EVALUATION.md: the eval tables (shared dev set and the project's own set) and the
answerer's calibration curve, all measured in one run through the same pipeline as the API.

    .venv/bin/python scripts/eval_report.py        (or: make eval)
    .venv/bin/python scripts/eval_report.py --html-only    (only the HTML extraction section, no model)

The HTML extraction section needs `../shared/news/html/` and says it was skipped without it.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from calibrate import answerable_and_not, curve
from html_eval import DEFAULT_DIR as HTML_PAGES
from html_eval import evaluate as evaluate_html

from index.loaders import load_documents
from service import evaluation
from service.config import Settings
from service.pipeline import Verity

SETS = {"shared dev set (`seeds/eval-dev.jsonl`)": Path("seeds/eval-dev.jsonl"),
        "project eval set (`seeds/eval.jsonl`)": Path("seeds/eval.jsonl")}  # fmt: skip
OUT = Path("docs/EVALUATION.md")


def main() -> None:
    if "--html-only" in sys.argv[1:]:
        update_html_section()
        return
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
    lines += html_section()
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT}")


def update_html_section() -> None:
    """Rewrite only the HTML extraction section of an existing docs/EVALUATION.md (a minute, no model)."""
    text = OUT.read_text() if OUT.is_file() else "# Evaluation\n"
    before, _, after = text.partition("\n## HTML extraction\n")
    rest = after[after.find("\n## ") :] if "\n## " in after else ""
    OUT.write_text(before.rstrip("\n") + "\n" + "\n".join(html_section()) + "\n" + rest)
    print(f"updated the HTML extraction section of {OUT}")


def html_section() -> list[str]:
    """HTML extraction on ../shared/news/html (scripts/html_eval.py), or a note when it is absent."""
    lines = ["", "## HTML extraction", ""]
    if not (HTML_PAGES / "evaldata.json").is_file():
        return [*lines, f"Skipped: `{HTML_PAGES}` is not here (the pages live beside the checkout)."]
    started = time.perf_counter()
    result = evaluate_html(HTML_PAGES)
    seconds = time.perf_counter() - started
    lines += [
        "The loader `verity index` and `verity extract` use (decoding, trafilatura, Verity's cleaning "
        "rules) over the real pages of `../shared/news/html/`, scored by its README's rules (segments that "
        "must and must not survive, on the stored title and text); the halves split the pages by the "
        f"first bit of sha1 of their URL. {seconds:.0f} s for all pages. Target: F1 ≥ 0.92 with "
        "precision ≥ 0.90 and no page failed. `python scripts/html_eval.py` prints the same figures.",
        "",
        "| set | precision | recall | F1 | accuracy | pages | failed |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, name in (("overall", "all"), ("half_A", "half A"), ("half_B", "half B")):
        row = result[key]
        assert isinstance(row, dict)
        lines.append(
            f"| {name} | {row['precision']:.3f} | {row['recall']:.3f} | {row['f1']:.3f} | "
            f"{row['accuracy']:.3f} | {row['pages']} | {row['failed']} |"
        )
    failed = result["failed_pages"]
    assert isinstance(failed, list)
    lines += ["", "Pages that failed: " + (", ".join(f"`{name}`" for name in failed) or "none") + "."]
    return lines


def _cpus() -> str:
    try:
        info = Path("/proc/cpuinfo").read_text().splitlines()
        model = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.processor() or "unknown CPU"

    return f"{os.cpu_count()} × {model}"


if __name__ == "__main__":
    main()
