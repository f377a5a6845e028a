"""Write docs/EVALUATION.md: the seeds' eval tables (in-process), the learned reader's training figures,
the real-news dev figures (`../shared/eval/score.py --as-of` against `verity serve` on an index of
`../shared/news/dev/corpus`, overall and support ≥ 0.5) and the HTML extraction figures.

    .venv/bin/python scripts/eval_report.py        (or: make eval)
    .venv/bin/python scripts/eval_report.py --html-only    (only the HTML extraction section, no model)

The news and HTML sections need `../shared/news/` and say they were skipped without it.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from html_eval import DEFAULT_DIR as HTML_PAGES
from html_eval import evaluate as evaluate_html

from index.loaders import load_documents
from service import evaluation
from service.answering.pipeline import Verity
from service.answering.reader import ReaderModel
from service.config import Settings

SETS = {"shared dev set (`seeds/eval-dev.jsonl`)": Path("seeds/eval-dev.jsonl"),
        "project eval set (`seeds/eval.jsonl`)": Path("seeds/eval.jsonl")}  # fmt: skip
OUT = Path("docs/EVALUATION.md")
NEWS = Path("../shared/news/dev")
SCORE = Path("../shared/eval/score.py")


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
    lines += reader_section()
    lines += news_section()
    lines += html_section()
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT}")


def reader_section() -> list[str]:
    """The learned reader's own figures, from the card `make train` wrote into the artifact."""
    model = ReaderModel.load(Settings().reader_model)
    card = model.card
    lines = ["", "## The learned reader", "",
             f"`models/reader.json` (`make train`, {card.get('seconds')} s): "
             f"refusal threshold {model.threshold}, short-answer threshold {model.span_threshold}; "
             f"{card.get('questions')} training questions of `../shared/news/train`, cross-validated over "
             f"{card.get('folds')} folds of months (every question held out once); the sentence model is "
             f"{card.get('kinds', {}).get('sentence')}, the span model {card.get('kinds', {}).get('span')}. "
             "Card: `models/README.md`.",
             "", "| figure | held out (cross-validated) | fitted on all |", "|---|---|---|"]  # fmt: skip
    for key, value in card.get("figures", {}).get("held_out", {}).items():
        lines.append(f"| {key} | {value} | {card['figures']['fitted_on'][key]} |")
    return lines


def news_section() -> list[str]:
    """../shared/news/dev scored over HTTP by ../shared/eval/score.py --as-of, overall and support >= 0.5."""
    lines = ["", "## Real news: ../shared/news/dev", ""]
    if not (NEWS / "corpus").is_dir() or not SCORE.is_file():
        return lines + ["Skipped: `../shared/news/dev` or `../shared/eval/score.py` is not there."]
    data = Path("test-output/news-dev-eval")  # kept: a rerun indexes only what changed
    Verity(Settings(data_dir=data)).index(load_documents(NEWS / "corpus"), prune=True, progress=False)
    strong = Path("test-output/news-dev-answerable-support.jsonl")
    rows = [json.loads(line) for line in (NEWS / "answerable.jsonl").open()]
    strong.write_text("".join(json.dumps(r) + "\n" for r in rows if r.get("support", 0) >= 0.5))
    sets = {"answerable": NEWS / "answerable.jsonl", "answerable, support ≥ 0.5": strong,
            "unanswerable": NEWS / "unanswerable.jsonl"}  # fmt: skip
    with _server(data) as url:
        results = {name: _score(url, path) for name, path in sets.items()}
    keys = [k for k in next(iter(results.values())) if any(r.get(k) is not None for r in results.values())]
    lines += [
        f"{len(rows)} answerable and {sum(1 for _ in (NEWS / 'unanswerable.jsonl').open())} unanswerable "
        "questions over the 583 scraped articles of `dev/corpus`, each sent with its `as_of`, against "
        "`verity serve` on an index of its own (`test-output/news-dev-eval`).",
        "",
        "| figure | " + " | ".join(results) + " |",
        "|---|" + "---|" * len(results),
    ]
    for key in keys:
        values = [results[n].get(key) for n in results]
        lines.append(f"| {key} | " + " | ".join("-" if v is None else str(v) for v in values) + " |")
    return lines


@contextlib.contextmanager
def _server(data: Path) -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    env = {**os.environ, "VERITY_DATA_DIR": str(data), "VERITY_RATE_LIMIT_PER_MINUTE": "0",
           "VERITY_CORPUS_DIR": str(NEWS / "corpus")}  # fmt: skip
    verity = Path(sys.executable).with_name("verity")
    proc = subprocess.Popen([str(verity), "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the news server did not become healthy")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _score(url: str, items: Path) -> dict[str, object]:
    out = Path("test-output") / f"score-{items.stem}.json"
    subprocess.run([sys.executable, str(SCORE), url, str(items), "--as-of", "--json", str(out)], check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    summary: dict[str, object] = json.loads(out.read_text())["summary"]
    return summary


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
