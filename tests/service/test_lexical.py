"""BM25 over the passages: our scoring loop over bm25s' index ranks exactly as bm25s' own `retrieve`,
and the as-of mask leaves out the articles published after the day asked."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

import bm25s
import numpy as np

from index.documents import Passage, Sentence
from service.answering.retrieve import Lexical

WORDS = (
    "storm flood river bridge mayor council budget vote school teacher strike union port ship cargo "
    "harbor election senator court ruling appeal fire forest drought rain farm crop price market bank"
).split()


def _passages(n: int) -> dict[str, Passage]:
    rng = random.Random(7)
    out = {}
    for i in range(n):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 30))) + "."
        out[f"p{i}"] = Passage(f"d{i // 3}", "t", i % 3, [Sentence(text, 0, len(text))], text)
    return out


def test_scores_and_ranks_equal_bm25s_retrieve() -> None:
    passages = _passages(600)
    lexical = Lexical(passages, {})
    assert lexical.bm25 is not None
    rng = random.Random(3)
    for _ in range(40):
        query = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6)))
        terms = bm25s.tokenize(
            [query], stopwords="en", stemmer=lexical.stemmer, return_ids=False, show_progress=False
        )[0]
        expected = lexical.bm25.get_scores(list(terms))
        assert np.allclose(lexical.scores(list(terms)), expected, rtol=1e-6, atol=1e-7)
        found, scores = lexical.bm25.retrieve([list(terms)], k=16, show_progress=False, n_threads=0)
        want = {lexical.ids[int(i)]: float(s) for i, s in zip(found[0], scores[0], strict=True) if s > 0}
        got = lexical.top(query, 16)
        # the same passages as bm25s' own retrieve (up to which of equal scores make the cut), best first
        by_score = dict(zip(lexical.ids, lexical.scores(list(terms)).tolist(), strict=True))
        assert [by_score[p] for p in got] == sorted(want.values(), reverse=True)
        cut = min(want.values(), default=0.0)
        assert {p for p in got if by_score[p] > cut} == {p for p, s in want.items() if s > cut}


def test_query_terms_equal_bm25s_tokenize() -> None:
    lexical = Lexical(_passages(30), {})
    seeds = Path(__file__).resolve().parents[2] / "seeds"
    texts = [line for f in sorted(seeds.glob("*.txt")) for line in f.read_text().splitlines()]
    texts += [
        "",
        "?!",
        "Who won Super Bowl LIX in 2025?",
        "North Korea's KIM Jong-un",
        "café naïve Zürich 3.5%",
        "a an the I it's don't",
        "U.S. GDP rose 2,4 % — 'really'",
        "x y z 42 7",
        "ÉCOLE Straße ǅemal",
    ]
    assert len(texts) > 20
    for text in texts:
        want = bm25s.tokenize(
            [text], stopwords="en", stemmer=lexical.stemmer, return_ids=False, show_progress=False
        )[0]
        assert lexical.query_terms(text) == list(want), text


def test_articles_published_after_as_of_are_left_out() -> None:
    passages = _passages(30)
    published = {f"d{i}": date(2024, 1, 1 + i) for i in range(10)}
    lexical = Lexical(passages, published)
    everything = lexical.top("storm flood river bridge mayor", 30)
    by_then = lexical.top("storm flood river bridge mayor", 30, as_of=date(2024, 1, 5))
    assert by_then and set(by_then) < set(everything)
    assert all(passages[pid].document_id in {f"d{i}" for i in range(5)} for pid in by_then)
