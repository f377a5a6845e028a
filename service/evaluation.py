"""`verity eval`: run an eval set through the same pipeline the API uses and score it.

The scoring rules are those of the shared eval README (and its score.py): answer accuracy, false
refusals, citation validity and support, conflicts surfaced, unanswerable refusals, false premises caught
and corrected, claim accuracy, latency. Kept in-process so a regression test can run it without a server.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from service.schemas import AskResponse, Turn, VerifyResponse


class Pipeline(Protocol):
    def ask(
        self, question: str, history: list[Turn] | None = None, as_of: date | None = None
    ) -> AskResponse: ...
    def verify(self, claim: str) -> VerifyResponse: ...
    def document_text(self, document_id: str) -> str | None: ...


def _norm(s: str) -> str:
    s = s.lower().replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    return re.sub(r"\s+", " ", s).strip()


def has(text: str, alt: str) -> bool:
    t, a = _norm(text), _norm(alt)
    if a.isdigit():
        return re.search(rf"(?<![\d.]){re.escape(a)}(?![\d])", t) is not None
    return a in t


def group_hit(text: str, group: list[str]) -> bool:
    return any(has(text, alt) for alt in group)


@dataclass
class Report:
    marks: dict[str, list[bool]] = field(default_factory=dict)
    latency: list[float] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)

    def mark(self, name: str, value: bool) -> None:
        self.marks.setdefault(name, []).append(bool(value))

    def rate(self, name: str) -> float | None:
        xs = self.marks.get(name, [])
        return round(sum(xs) / len(xs), 3) if xs else None

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latency)

        def pct(p: float) -> float | None:
            return round(1000 * lat[min(len(lat) - 1, int(p * len(lat)))], 1) if lat else None

        return {
            "n": len(self.rows),
            "answer_accuracy": self.rate("answer_correct"),
            "false_refusal": self.rate("answer_refused"),
            "citation_valid": self.rate("cite_valid"),
            "citation_support": self.rate("cite_support"),
            "citation_gold_doc": self.rate("cite_gold"),
            "conflicts_surfaced": self.rate("conflict_surfaced"),
            "unanswerable_refused": self.rate("unans_refused"),
            "false_premise_caught": self.rate("fp_caught"),
            "false_premise_corrected": self.rate("fp_corrected"),
            "claim_accuracy": self.rate("claim_correct"),
            "latency_p50_ms": pct(0.5),
            "latency_p95_ms": pct(0.95),
        }


def load_items(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run(pipeline: Pipeline, items: list[dict[str, Any]]) -> Report:
    report = Report()
    for it in items:
        started = time.perf_counter()
        if it["kind"] == "claim":
            verdict = pipeline.verify(it["claim"]).verdict
            report.latency.append(time.perf_counter() - started)
            report.mark("claim_correct", verdict == it["label"])
            report.rows.append(
                {"id": it["id"], "ok": verdict == it["label"], "got": verdict, "text": it["claim"]}
            )
            continue
        history = [Turn(**t) for t in it.get("history", [])]
        r = pipeline.ask(
            it["question"], history, date.fromisoformat(it["as_of"]) if it.get("as_of") else None
        )
        report.latency.append(time.perf_counter() - started)
        refused = r.status == "refused"
        ok = refused
        if it["kind"] == "answer":
            ok = not refused and all(group_hit(r.answer, g) for g in it["must"])
            report.mark("answer_refused", refused)
            report.mark("answer_correct", ok)
            if not refused:
                for c in r.citations:
                    text = pipeline.document_text(c.document_id) or ""
                    report.mark("cite_valid", bool(c.text) and text[c.start : c.end] == c.text)
                cited = " ".join(c.text for c in r.citations)
                hit = [g for g in it["must"] if group_hit(r.answer, g)]
                report.mark("cite_support", bool(r.citations) and all(group_hit(cited, g) for g in hit))
                report.mark(
                    "cite_gold", any(c.document_id.startswith(tuple(it["docs"])) for c in r.citations)
                )
                if it.get("conflict"):
                    report.mark("conflict_surfaced", all(group_hit(r.answer, g) for g in it["conflict"]))
        elif it["kind"] == "unanswerable":
            report.mark("unans_refused", refused)
        elif it["kind"] == "false_premise":
            report.mark("fp_caught", refused)
            corrected = refused and all(group_hit(r.answer, g) for g in it.get("correction", []))
            report.mark("fp_corrected", corrected)
            ok = corrected
        report.rows.append(
            {"id": it["id"], "ok": ok, "got": r.status, "text": it["question"], "answer": r.answer}
        )
    return report


def table(summary: dict[str, Any]) -> str:
    width = max(len(k) for k in summary)
    lines = [f"{'figure'.ljust(width)}  value", f"{'-' * width}  -----"]
    lines += [f"{k.ljust(width)}  {'-' if v is None else v}" for k, v in summary.items()]
    return "\n".join(lines)
