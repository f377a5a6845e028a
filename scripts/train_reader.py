"""Fit the learned reader (`service/answering/reader.py`) on ../shared/news/train — `make train`.

Data: `train/questions.jsonl` with each question's own search results from `train/articles.jsonl`,
cleaned, dated and split exactly as `verity index` does. The articles of each week's questions form a
pool, as a served corpus holds many stories; for each question the sentences of its best-matching
passages in its week's pool (BM25, the serving retriever's lexical half) become candidates, scored
with the serving code's signals (`SentenceReader.score`, `Reader.sentence_rows`).
A candidate containing a gold answer string (whole word, any case) is a positive, the rest negatives;
questions whose articles lack the answer have no positive and teach the refusal threshold.

Held out for the figures: every fifth week (by `as_of`), never used to fit. The artifact is then refitted
on all weeks. Deterministic: no sampling, Newton's method from zero, questions in file order.
Never reads ../shared/news/dev or any eval set.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from index.analysis import Analyzer  # noqa: E402
from index.dates import parse_date, with_published  # noqa: E402
from index.documents import Passage  # noqa: E402
from index.embed import Embedder  # noqa: E402
from index.loaders import load_documents  # noqa: E402
from index.split import split_passages  # noqa: E402
from service.answering import fitted  # noqa: E402
from service.answering.fitted import Blend, Fitted, Logistic, Trees  # noqa: E402
from service.answering.question import analyse  # noqa: E402
from service.answering.read import SentenceReader  # noqa: E402
from service.answering.reader import (  # noqa: E402
    NO_ENTITY,
    QUOTED,
    SENTENCE_FEATURES,
    SPAN_FEATURES,
    Reader,
    ReaderModel,
    answer_key,
    quoted_titles,
)
from service.answering.retrieve import Corpus, Hit  # noqa: E402
from service.answering.text import Parser  # noqa: E402
from service.answering.timescope import scope_of  # noqa: E402
from service.config import Settings  # noqa: E402


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def contains(text: str, alternatives: list[str]) -> bool:
    low = text.lower()
    return any(re.search(rf"(?<!\w){re.escape(a.lower())}(?!\w)", low) for a in alternatives if a)


def span_matches(span: str, alternatives: list[str]) -> bool:
    low = span.lower()
    return any(a and a.lower() in low and len(low) <= 3 * len(a) + 12 for a in alternatives)


class Searcher:
    """BM25 (bm25s, the serving retriever's lexical half) over one week's pool of passages."""

    def __init__(self, pids: list[str], passages: dict[str, Passage]) -> None:
        import bm25s
        import Stemmer

        self.pids = pids
        self.stemmer = Stemmer.Stemmer("english")
        tokens = bm25s.tokenize(
            [passages[p].text for p in pids], stopwords="en", stemmer=self.stemmer, show_progress=False
        )
        self.model = bm25s.BM25()
        self.model.index(tokens, show_progress=False)

    def top(self, question: str, k: int) -> list[str]:
        import bm25s

        query = bm25s.tokenize([question], stopwords="en", stemmer=self.stemmer, show_progress=False)
        if not self.pids or not query.vocab:
            return []
        docs, scores = self.model.retrieve(query, k=min(k, len(self.pids)), show_progress=False)
        return [self.pids[int(i)] for i, s in zip(docs[0], scores[0], strict=True) if s > 0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "news" / "train")
    ap.add_argument("--out", type=Path, default=ROOT / "models" / "reader.json")
    ap.add_argument(
        "--passages", type=int, default=6, help="BM25 passages per question (from its week's pool)"
    )
    ap.add_argument("--limit", type=int, default=0, help="first N questions only (a quick trial)")
    ap.add_argument(
        "--cache", type=Path, default=ROOT / "test-output" / "train-cache",
        help="embeddings and parses of the candidate sentences, reused by the next run (same model)",
    )  # fmt: skip
    args = ap.parse_args()
    started = time.time()
    items, parser, embedder, texts, cached_before = prepare(args)
    fit(items, parser, embedder, args, started, texts, cached_before)


def prepare(args: argparse.Namespace) -> tuple[list[dict[str, Any]], Parser, Embedder, list[str], set[str]]:
    """The training questions with their candidates, labels and time scopes, scored with the read
    stage's signals (the candidates' embeddings and parses computed once, then read from the cache)."""
    settings = Settings()
    embedder = Embedder(settings.embed_model, 128, bf16=False)  # the same artifact on any CPU
    analyzer = Analyzer(settings.spacy_model)
    parser = Parser(analyzer, cache_size=10_000_000)
    untrained = Logistic([], [], [], [], 0.0)
    sentences = SentenceReader(
        embedder, parser, Reader(ReaderModel(untrained, untrained, {}, 0.5, 0.5), parser)
    )

    questions = [json.loads(line) for line in (args.data / "questions.jsonl").open()]
    if args.limit:
        questions = questions[: args.limit]
    wanted = {a for q in questions for a in q["articles"]}
    log(f"{len(questions)} questions; loading {len(wanted)} articles")
    documents = {
        d.id: with_published(d) for d in load_documents(args.data / "articles.jsonl") if d.id in wanted
    }
    passages: dict[str, Passage] = {}
    of_doc: dict[str, list[str]] = defaultdict(list)
    for doc in documents.values():
        for p in split_passages(doc, settings.sentences_per_passage):
            pid = f"{doc.id}:{p.position:05d}"
            passages[pid] = p
            of_doc[doc.id].append(pid)
    corpus = Corpus(passages, lexical=False)  # candidates come from `Searcher`
    for doc in documents.values():
        if (day := parse_date(doc.published)) is not None:
            corpus.published[doc.id] = day
    log(f"{len(passages)} passages, {corpus.sentences} sentences, {len(corpus.published)} dated documents")

    # candidates per question, as the read stage builds them, retrieved (BM25) from its week's pool: like
    # a served corpus, the pool holds the results of every question of that week, so a question meets
    # other stories' sentences as well as its own articles'
    week_of = {q["id"]: q["id"].rsplit("_", 1)[0] for q in questions}
    pools: dict[str, list[str]] = defaultdict(list)
    for q in questions:
        for a in q["articles"]:
            pools[week_of[q["id"]]].extend(
                pid for pid in of_doc.get(a, []) if pid not in pools[week_of[q["id"]]]
            )
    searchers = {week: Searcher(pids, passages) for week, pids in pools.items()}
    items: list[dict[str, Any]] = []
    for q in questions:
        top = searchers[week_of[q["id"]]].top(q["question"], args.passages)
        hits = [Hit(pid, passages[pid], 0.0) for pid in top]
        question = analyse(q["question"], parser)
        candidates = sentences.candidates(hits, corpus)
        items.append({"q": q, "question": question, "candidates": candidates, "corpus": corpus})
    texts = sorted({c.sentence.text for it in items for c in it["candidates"]}
                   | {t for it in items for c in it["candidates"] for t in c.window})  # fmt: skip
    cached_before = _cached(args.cache)
    vectors = embed_and_parse(texts, embedder, analyzer, parser, args.cache)
    log("scoring")
    embedder.encode_cached([it["question"].text for it in items])  # the questions in one batch, then cached
    for it in items:
        for c in it["candidates"]:
            c.vector = vectors[c.sentence.text]
        sentences.score(it["question"], it["candidates"], corpus)
        alts = it["q"]["must"][0] if it["q"]["must"] else []
        it["labels"] = [contains(c.sentence.text, alts) for c in it["candidates"]]
        it["scope"] = scope_of(it["q"]["question"], date.fromisoformat(it["q"]["as_of"]))
    return items, parser, embedder, texts, cached_before


def fit(
    items: list[dict[str, Any]], parser: Parser, embedder: Embedder, args: argparse.Namespace,
    started: float, texts: list[str], cached_before: set[str],
) -> None:  # fmt: skip
    """Compare the model kinds by cross-validation over months, refit the chosen one on all questions,
    write it and its card."""
    folds = month_folds(items)
    trials: dict[tuple[str, str], dict[str, float]] = {}
    for kinds in KINDS:
        trials[kinds] = cross_validate(items, folds, parser, embedder, kinds)
        log(f"{'+'.join(kinds)}: held out {json.dumps(trials[kinds])}")
    best = max(objective(t) for t in trials.values())
    near = [k for k in KINDS if objective(trials[k]) >= best - TIE]
    chosen = min(near, key=lambda k: (roughness(k), -objective(trials[k])))
    labels = label_table(items, parser)
    final = train(items, labels, focus_words(items, labels), parser, embedder, chosen)
    figures = {"held_out": trials[chosen], "fitted_on": evaluate(final, items, parser, embedder)}
    final.card = {
        "data": "../shared/news/train (questions.jsonl + articles.jsonl)",
        "command": "make train",
        "questions": len(items),
        "folds": FOLDS,
        "months": sum(len(f) for f in folds),
        "figures": figures,
        "kinds": {"sentence": chosen[0], "span": chosen[1]},
        "compared": {"+".join(k): {**v, "objective": objective(v)} for k, v in trials.items()},
        "seconds": round(time.time() - started),
        "sentences": len(texts),
        "sentences_from_cache": sum(1 for t in texts if t in cached_before),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    final.dump(args.out)
    write_card(args.out.parent / "README.md", final, args)
    log(f"wrote {args.out}: {json.dumps(figures)}")


def month_folds(items: list[dict[str, Any]]) -> list[set[str]]:
    """The training months (YYYY-MM of `as_of`) in `FOLDS` folds: month i in fold i mod `FOLDS`."""
    months = sorted({it["q"]["as_of"][:7] for it in items})
    return [{m for i, m in enumerate(months) if i % FOLDS == f} for f in range(FOLDS)]


def held_out_models(
    items: list[dict[str, Any]], folds: list[set[str]], parser: Parser, embedder: Embedder,
    kinds: tuple[str, str],
) -> Iterator[tuple[ReaderModel, list[dict[str, Any]]]]:  # fmt: skip
    """Per fold: a model fitted (label table included) on the questions of the other folds' months, and
    the fold's own questions."""
    for months in folds:
        fit_items = [it for it in items if it["q"]["as_of"][:7] not in months]
        held = [it for it in items if it["q"]["as_of"][:7] in months]
        labels = label_table(fit_items, parser)
        yield train(fit_items, labels, focus_words(fit_items, labels), parser, embedder, kinds), held


def cross_validate(
    items: list[dict[str, Any]], folds: list[set[str]], parser: Parser, embedder: Embedder,
    kinds: tuple[str, str],
) -> dict[str, float]:  # fmt: skip
    """The figures of models fitted without each fold's months (label table included) on that fold's
    questions, pooled over the folds: every question is held out once."""
    totals: dict[str, float] = defaultdict(float)
    for model, held in held_out_models(items, folds, parser, embedder, kinds):
        figures = evaluate(model, held, parser, embedder)
        for key, value in figures.items():  # a rate counts by the questions it is a rate of
            totals[key] += value if key.endswith("_questions") else value * figures[_base(key)]
    return {
        key: int(value) if key.endswith("_questions") else round(value / max(totals[_base(key)], 1), 3)
        for key, value in totals.items()
    }


def _base(key: str) -> str:
    return "unanswerable_questions" if key.startswith("unanswerable") else "answerable_questions"


# the sentence and span model kinds compared by cross-validation over months (month i of the training
# weeks in fold i mod FOLDS); `objective` picks one, and where kinds score within TIE of the best (a
# question or two of the 554 with an answer), the smoothest of them, then the best of those: trees are
# piecewise constant, and questions unlike the training ones (the seeds' "how did lawmakers describe ...")
# fall between splits. "grouped" is a logistic span model fitted for the choice it makes, among the spans
# of one sentence (`Logistic.fit_grouped`): as smooth as the pointwise one
KINDS = [
    ("logistic", "logistic"), ("blend", "logistic"), ("blend", "grouped"), ("blend", "blend"),
    ("trees", "logistic"),
]  # fmt: skip
TIE = 0.005
FOLDS = 5
_ROUGHNESS = {"logistic": 0, "grouped": 0, "blend": 1, "trees": 2}


def roughness(kinds: tuple[str, str]) -> int:
    """How piecewise the pair of models is: 0 for two logistic models, more for each blend or trees."""
    return sum(_ROUGHNESS[k] for k in kinds)


OBJECTIVE_KEYS = ("lead_accuracy", "short_answer_accuracy", "unanswerable_refused")


def objective(figures: dict[str, float]) -> float:
    """What the kinds are compared by: the mean of the answer leading, the short answer being right (on
    questions with an answer) and the refusal of questions without one — the product's three figures."""
    return round(sum(figures[k] for k in OBJECTIVE_KEYS) / len(OBJECTIVE_KEYS), 4)


def _describe(model: Fitted) -> str:
    if isinstance(model, Blend):
        return f"the mean of {_describe(model.logistic)} and {_describe(model.trees)}"
    if isinstance(model, Trees):
        leaves = sum(sum(1 for f in t["feature"] if f < 0) for t in model.trees)
        return f"{len(model.trees)} boosted trees of {leaves} leaves in all"
    top = sorted(zip(model.features, model.weights, strict=True), key=lambda p: -abs(p[1]))[:5]
    return "a logistic model, largest standardised weights " + ", ".join(f"{n} {w:+.2f}" for n, w in top)


def write_card(path: Path, model: ReaderModel, args: argparse.Namespace) -> None:
    """models/README.md: what the artifact is, the data and command that made it, and its figures."""
    card = model.card
    rows = ["| figure | held out (cross-validated) | fitted on all |", "|---|---|---|"]
    for key in card["figures"]["held_out"]:
        rows.append(f"| {key} | {card['figures']['held_out'][key]} | {card['figures']['fitted_on'][key]} |")
    compared = ["| sentence + span model | " + " | ".join(OBJECTIVE_KEYS) + " | objective |",
                "|---|" + "---|" * (len(OBJECTIVE_KEYS) + 1)]  # fmt: skip
    for name, fig in card["compared"].items():
        compared.append(
            f"| {name} | " + " | ".join(str(fig[k]) for k in OBJECTIVE_KEYS) + f" | {fig['objective']} |"
        )
    kinds = card["kinds"]
    text = f"""# models/

## reader.json — the learned reader (`service/answering/reader.py`)

Two fitted models (`service/answering/fitted.py`) and a label table, {args.out.stat().st_size // 1024} KB
of JSON, loaded at start from `VERITY_READER_MODEL` (default `models/reader.json`):

* the **sentence model** ({_describe(model.sentence)}): P(a candidate sentence answers the question)
  over {len(model.sentence.features)} signals; a question is refused when no sentence reaches
  **{model.threshold}**;
* the **span model** ({_describe(model.span)}): P(an entity, noun chunk or quoted title of the
  answering sentence is the answer) over {len(model.span.features)} signals; no short answer below
  **{model.span_threshold}**;
* the **label table**: P(entity label | what is asked) for {len(model.labels)} answer types and focus nouns; a
  focus noun no training question used reads the row of the most similar one (the bundled embedding
  model, cosine ≥ 0.55: "which nation" reads "country"), else the row of all questions.

**Data**: {card["data"]} only — never the dev sets or the seeds' eval sets. {card["questions"]} questions;
for each, the sentences of its {args.passages} best BM25 passages in its week's pool (the results of every
question of that week, cleaned, dated and split as `verity index` does) are candidates; one containing a
gold answer string is a positive.
**Command**: `{card["command"]}` (`scripts/train_reader.py`; deterministic: Newton's method from zero
for logistic models, scikit-learn's boosting with a fixed seed and no early stopping for trees).
This run: {card["seconds"]} s on this machine for {card["sentences"]} candidate sentences, of
which {card["sentences_from_cache"]} came embedded and parsed from an earlier run's cache
(`test-output/train-cache`); a first run embeds and parses them all, about 15 minutes on 2 busy cores.

**Figures** (the same scoring on the training pool's candidates). Held out: the {card["months"]} months of
training weeks in {card["folds"]} folds (month i in fold i mod {card["folds"]}); each fold's questions are
scored by models (label table included) fitted on the other folds, so every question is held out once.
The committed model is then refitted on all questions; "fitted on all" scores it on its own data:

{chr(10).join(rows)}

**Which kind** of each model is chosen by the same cross-validation, by the mean of lead accuracy,
short-answer accuracy and unanswerable refused; where kinds come within {TIE} of the best, the smoothest
of them (logistic, then the blend, then trees alone: trees are piecewise constant, and on questions
unlike the training ones a sentence can fall on the wrong side of a split), then the best of those.
"grouped" is a logistic span model fitted by conditional likelihood, for the choice it makes among the
spans of one sentence, then calibrated to a probability. This run chose
{kinds["sentence"]} + {kinds["span"]}:

{chr(10).join(compared)}

The dev figures (`make eval`, docs/EVALUATION.md) are the measure; these are the reader's own.
"""
    path.write_text(text)


def _cached(cache: Path) -> set[str]:
    meta = cache / "sentences.jsonl"
    return {json.loads(line)[0] for line in meta.open()} if meta.exists() else set()


def embed_and_parse(
    texts: list[str], embedder: Embedder, analyzer: Analyzer, parser: Parser, cache: Path
) -> dict[str, np.ndarray]:
    """Vectors of `texts`, their parses put in the parser's cache; computed once, then read from `cache`."""
    cache.mkdir(parents=True, exist_ok=True)
    known: dict[str, tuple[np.ndarray, str]] = {}
    vec_file, meta_file = cache / "vectors.npy", cache / "sentences.jsonl"
    if vec_file.exists() and meta_file.exists():
        stored = np.load(vec_file)
        for row, line in zip(stored, meta_file.open(), strict=True):
            text, analysis = json.loads(line)
            known[text] = (row, analysis)
    todo = [t for t in texts if t not in known]
    log(f"embedding and parsing {len(todo)} sentences ({len(texts) - len(todo)} cached)")
    for i in range(0, len(todo), 2048):
        chunk = todo[i : i + 2048]
        for text, vector, analysis in zip(
            chunk, embedder.encode(chunk), analyzer.analyse(chunk), strict=True
        ):
            known[text] = (vector, analysis)
        log(f"  {min(i + 2048, len(todo))}/{len(todo)}")
    if todo:
        order = list(known)
        np.save(vec_file, np.stack([known[t][0] for t in order]))
        with meta_file.open("w") as out:
            for t in order:
                out.write(json.dumps([t, known[t][1]]) + "\n")
    parser.preload({t: known[t][1] for t in texts})
    return {t: known[t][0] for t in texts}


def focus_words(items: list[dict[str, Any]], table: dict[str, dict[str, float]]) -> dict[str, str]:
    """For each focus row of the label table, the focus noun as its questions most often write it
    (`Reader.key` compares an unseen focus noun with these)."""
    words: dict[str, Counter[str]] = defaultdict(Counter)
    for it in items:
        key, word = answer_key(it["question"]), it["question"].focus_word
        if word and key.startswith("focus:") and key in table:
            words[key][word] += 1
    return {key: counter.most_common(1)[0][0] for key, counter in sorted(words.items())}


def label_table(items: list[dict[str, Any]], parser: Parser) -> dict[str, dict[str, float]]:
    """P(entity label | answer key) from the gold answers found in positive sentences (add-one smoothed)."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for it in items:
        alts = it["q"]["must"][0] if it["q"]["must"] else []
        key = answer_key(it["question"])
        for c, positive in zip(it["candidates"], it["labels"], strict=True):
            if not positive:
                continue
            doc = parser.sentence(c.sentence.text)
            label = next((e.label_ for e in doc.ents if span_matches(e.text, alts)), None)
            if label is None:  # a title in quotes, else a noun chunk
                quoted = any(span_matches(t, alts) for _, _, t in quoted_titles(c.sentence.text))
                label = QUOTED if quoted else NO_ENTITY
            counts[key][label] += 1
            counts["any"][label] += 1
            break  # one per question
    table: dict[str, dict[str, float]] = {}
    for key, counter in counts.items():
        total = sum(counter.values())
        if key != "any" and total < 3:
            continue  # too few: the "any" row serves it
        row = {label: (n + 0.5) / (total + 10) for label, n in counter.items()}
        row["_other"] = 0.5 / (total + 10)
        table[key] = row
    return table


def train(
    items: list[dict[str, Any]], labels: dict[str, dict[str, float]], words: dict[str, str],
    parser: Parser, embedder: Embedder, kinds: tuple[str, str] = ("logistic", "logistic"),
) -> ReaderModel:  # fmt: skip
    untrained = Logistic([], [], [], [], 0.0)
    model = ReaderModel(untrained, untrained, labels, 0.5, 0.5, focus_words=words)
    reader = Reader(model, parser, embedder)
    rows, ys = [], []
    for it in items:
        it["rows"] = reader.sentence_rows(it["question"], it["candidates"], it["corpus"], it["scope"])
        rows.append(it["rows"])
        ys.extend(it["labels"])
    x = np.vstack([r for r in rows if len(r)])
    model.sentence = fitted.fit(kinds[0], SENTENCE_FEATURES, x, np.asarray(ys, dtype=float))
    # refusal threshold: the best question-level accuracy (answer right, or refuse when nothing answers)
    tops = []
    for it in items:
        probs = model.sentence.predict(it["rows"]) if len(it["rows"]) else np.zeros(0)
        it["probs"] = probs
        if len(probs):
            best = int(np.argmax(probs))
            tops.append((float(probs[best]), bool(it["labels"][best]), any(it["labels"])))
        else:
            tops.append((0.0, False, False))
    model.threshold = best_threshold(tops)
    # span model on the answering sentences
    span_rows: list[np.ndarray] = []
    span_ys: list[bool] = []
    for it in items:
        alts = it["q"]["must"][0] if it["q"]["must"] else []
        order: list[int] = [int(i) for i in np.argsort(-it["probs"])]
        others = [it["candidates"][int(i)].sentence.text for i in order[:5]]
        for c, positive, p in zip(it["candidates"], it["labels"], it["probs"], strict=True):
            if not positive:
                continue
            spans = reader.spans(it["question"], c.sentence.text)
            if not spans:
                continue
            row = reader.span_rows(
                it["question"], c.sentence.text, spans, others, float(p), it["corpus"], c.passage.title
            )
            span_rows.append(row)
            span_ys.extend(span_matches(s.text, alts) for s in spans)
    sx, sy = np.vstack(span_rows), np.asarray(span_ys, dtype=float)
    model.span = fitted.fit(kinds[1], SPAN_FEATURES, sx, sy, sizes=[len(r) for r in span_rows])
    # the span threshold: a short answer pays when right and costs half as much when wrong
    best_probs = np.concatenate([model.span.predict(r).max(keepdims=True) for r in span_rows])
    best_right = []
    for r, rows in zip(span_rows, _split_labels(span_rows, span_ys), strict=True):
        best_right.append(bool(rows[int(np.argmax(model.span.predict(r)))]))
    gains = [
        (sum(1.0 if right else -0.5 for p, right in zip(best_probs, best_right, strict=True) if p >= t), t)
        for t in np.linspace(0.02, 0.8, 40)
    ]
    # the curve is flat near its top (0.02 to 0.08 within a point of the 1,251 sentences), so as for
    # the refusal threshold the lowest within half a percent of the best: where the data cannot tell
    # thresholds apart, give the short answer
    top = max(g for g, _ in gains)
    model.span_threshold = round(float(next(t for g, t in gains if g >= top - 0.005 * len(best_right))), 3)
    return model


def _split_labels(rows: list[np.ndarray], labels: list[bool]) -> list[list[bool]]:
    out, at = [], 0
    for r in rows:
        out.append(labels[at : at + len(r)])
        at += len(r)
    return out


def best_threshold(tops: list[tuple[float, bool, bool]]) -> float:
    """The refusal threshold by balanced accuracy: right answers on questions that have one, refusals on
    those that do not. The curve is flat near its top (a small change of the data moved its argmax from
    0.23 to 0.27), so the lowest threshold within 0.005 of the best is taken: where the training data
    cannot tell thresholds apart, answer — every sentence shown is still verified."""
    grid = np.linspace(0.02, 0.9, 89)
    scores = []
    for t in grid:
        answerable = [(p >= t and right) for p, right, has in tops if has]
        refusable = [p < t for p, _, has in tops if not has]
        scores.append(
            0.5 * (np.mean(answerable) if answerable else 0) + 0.5 * (np.mean(refusable) if refusable else 0)
        )
    top = max(scores)
    return round(float(next(t for t, s in zip(grid, scores, strict=True) if s >= top - 0.005)), 3)


def evaluate(
    model: ReaderModel, items: list[dict[str, Any]], parser: Parser, embedder: Embedder
) -> dict[str, float]:
    reader = Reader(model, parser, embedder)
    n_has = n_none = lead = refused_none = false_refusal = short = first = 0
    for it in items:
        rows = reader.sentence_rows(it["question"], it["candidates"], it["corpus"], it["scope"])
        probs = model.sentence.predict(rows) if len(rows) else np.zeros(0)
        has = any(it["labels"])
        answered = bool(len(probs)) and float(probs.max()) >= model.threshold
        if has:
            n_has += 1
            first += int(it["labels"][int(np.argmax(probs))])
            if not answered:
                false_refusal += 1
                continue
            best = int(np.argmax(probs))
            lead += int(it["labels"][best])
            order = np.argsort(-probs)
            others = [it["candidates"][int(i)].sentence.text for i in order[:5]]
            top = it["candidates"][best]
            span = reader.short_answer(
                it["question"], top.sentence.text, others, float(probs[best]), it["corpus"], top.passage.title
            )
            alts = it["q"]["must"][0]
            short += int(span is not None and any(a.lower() in span.text.lower() for a in alts))
        else:
            n_none += 1
            refused_none += int(not answered)
    return {
        "answerable_questions": n_has,
        "ranked_first": round(first / max(n_has, 1), 3),
        "lead_accuracy": round(lead / max(n_has, 1), 3),
        "short_answer_accuracy": round(short / max(n_has, 1), 3),
        "false_refusal": round(false_refusal / max(n_has, 1), 3),
        "unanswerable_questions": n_none,
        "unanswerable_refused": round(refused_none / max(n_none, 1), 3),
    }


if __name__ == "__main__":
    main()
