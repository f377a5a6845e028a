"""Score Verity's HTML extraction on the pages of `../shared/news/html/` (rules: that folder's README).

Each page goes through the loader `verity index` and `verity extract` use (`index/loaders.py`: decode,
trafilatura, Verity's cleaning rules); the scored text is the document's title and text as stored. Or
score the output of `verity extract --jsonl` with `--jsonl FILE` (the same documents, ids = file stems).

    .venv/bin/python scripts/html_eval.py [--pages DIR] [--jsonl FILE] [--json OUT] [--show]

Prints P, R, F1 and accuracy over all segments, the pages that failed, and the same figures on each half
of the pages (split by the first bit of sha1 of the page's URL), to show they do not hinge on a few
pages.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from index.loaders import LoadError, clean, load_file  # noqa: E402

DEFAULT_DIR = ROOT.parent / "shared" / "news" / "html"
_WS_RE = re.compile(r"\s+")


def normalise(text: str) -> str:
    return _WS_RE.sub(" ", text).strip()


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    pages: int = 0
    failed: list[str] = field(default_factory=list)

    def add(self, text: str | None, with_: list[str], without: list[str], name: str) -> None:
        self.pages += 1
        if text is None:  # a failed page: every `with` missing, every `without` absent
            self.failed.append(name)
            self.fn += len(with_)
            self.tn += len(without)
            return
        for segment in with_:
            if normalise(segment) in text:
                self.tp += 1
            else:
                self.fn += 1
        for segment in without:
            if normalise(segment) in text:
                self.fp += 1
            else:
                self.tn += 1

    def figures(self) -> dict[str, float | int]:
        total = self.tp + self.fp + self.fn + self.tn
        return {
            "precision": round(self.tp / max(1, self.tp + self.fp), 3),
            "recall": round(self.tp / max(1, self.tp + self.fn), 3),
            "f1": round(2 * self.tp / max(1, 2 * self.tp + self.fp + self.fn), 3),
            "accuracy": round((self.tp + self.tn) / max(1, total), 3),
            "pages": self.pages,
            "failed": len(self.failed),
        }


def half(url: str) -> str:
    """ "A" or "B": the first bit of sha1(url), a split independent of the pages' content."""
    return "A" if hashlib.sha1(url.encode()).digest()[0] < 128 else "B"


def extracted_texts(pages: Path, evaldata: dict[str, dict[str, object]]) -> dict[str, str | None]:
    """file name -> the stored title and text through the loader (None when it failed), with why."""
    texts: dict[str, str | None] = {}
    for item in evaldata.values():
        name = str(item["file"])
        try:
            ((where, raw),) = load_file(pages / name)
            document = clean(where, raw)
        except LoadError as exc:
            print(f"failed: {exc}", file=sys.stderr)
            texts[name] = None
            continue
        texts[name] = normalise(f"{document.title}\n{document.text}")
    return texts


def jsonl_texts(path: Path) -> dict[str, str | None]:
    """file stem -> title and text from `verity extract --jsonl` output."""
    texts: dict[str, str | None] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            texts[record["id"]] = normalise(f"{record['title']}\n{record['text']}")
    return texts


def evaluate(
    folder: Path = DEFAULT_DIR, jsonl: Path | None = None, only: set[str] | None = None
) -> dict[str, object]:
    """Figures overall and per half, and the failed pages (`only`: these page files alone)."""
    evaldata: dict[str, dict[str, object]] = json.loads((folder / "evaldata.json").read_text())
    if only is not None:
        evaldata = {url: item for url, item in evaldata.items() if item["file"] in only}
    by_file = jsonl_texts(jsonl) if jsonl else extracted_texts(folder / "pages", evaldata)
    scores = {"all": Score(), "A": Score(), "B": Score()}
    for url, item in evaldata.items():
        name = str(item["file"])
        text = by_file.get(name, by_file.get(Path(name).stem))
        with_, without = list(item["with"]), list(item["without"])  # type: ignore[call-overload]
        for key in ("all", half(url)):
            scores[key].add(text, with_, without, name)
    return {
        "overall": scores["all"].figures(),
        "half_A": scores["A"].figures(),
        "half_B": scores["B"].figures(),
        "failed_pages": scores["all"].failed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=Path, default=DEFAULT_DIR, help="folder with evaldata.json, pages/")
    parser.add_argument("--jsonl", type=Path, help="score this `verity extract --jsonl` output instead")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the figures as JSON")
    args = parser.parse_args()
    result = evaluate(args.pages, args.jsonl)
    for key in ("overall", "half_A", "half_B"):
        print(key, json.dumps(result[key]))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
