"""The learned reader: its fitting is deterministic, the committed artifact matches the code's features,
and it reads real sentences (short answers are spans of their sentence)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from index.documents import Document, Passage, Sentence
from service.answering import fitted
from service.answering.fitted import Logistic, Trees
from service.answering.pipeline import Verity
from service.answering.question import analyse
from service.answering.read import Candidate
from service.answering.reader import (
    QUOTED,
    SENTENCE_FEATURES,
    SPAN_FEATURES,
    Reader,
    ReaderModel,
    Span,
    _in_title,
    _rarity,
)
from service.answering.retrieve import Corpus
from service.answering.text import stem_set
from service.config import Settings
from service.errors import ConfigError

MODEL = Path(__file__).resolve().parents[2] / "models" / "reader.json"


def _candidate(doc: str, text: str, start: int = 0, score: float = 0.0) -> Candidate:
    """A read candidate: `text` as the one sentence of a passage of document `doc`, at `start`."""
    sentence = Sentence(text, start, start + len(text))
    return Candidate(f"{doc}:0", Passage(doc, doc, 0, [sentence], text), sentence, 0, None, score=score)


def test_fitting_is_deterministic_and_learns_the_signal() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(400, 3))
    y = (x[:, 0] - 0.5 * x[:, 1] + 0.1 * rng.normal(size=400) > 0).astype(float)
    a = Logistic.fit(["a", "b", "c"], x, y)
    b = Logistic.fit(["a", "b", "c"], x, y)
    assert a.weights == b.weights and a.bias == b.bias
    assert a.weights[0] > 0 > a.weights[1] and abs(a.weights[2]) < abs(a.weights[1])
    probs = a.predict(x)
    assert ((probs > 0.5) == (y > 0.5)).mean() > 0.9 and probs.min() >= 0.0 and probs.max() <= 1.0


def test_boosted_trees_are_deterministic_and_learn_what_a_line_cannot() -> None:
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, size=(2000, 2))
    y = ((x[:, 0] > 0) == (x[:, 1] > 0)).astype(float)  # xor: no weights of a line separate it
    trees = Trees.fit(["a", "b"], x, y, rounds=60, min_leaf=20)
    assert trees == Trees.fit(["a", "b"], x, y, rounds=60, min_leaf=20)
    assert ((trees.predict(x) > 0.5) == (y > 0.5)).mean() > 0.95
    assert ((Logistic.fit(["a", "b"], x, y).predict(x) > 0.5) == (y > 0.5)).mean() < 0.7


def test_a_grouped_fit_learns_the_choice_within_groups_that_a_pointwise_fit_misses() -> None:
    """Groups of five rows, a quarter of them with one right row. Within a group the right row has the
    highest "b" and a lower "d"; but "d" stands high in the groups with a right row and low in the others,
    so a fit row by row weighs it up, and its choice within a group goes wrong."""
    rng = np.random.default_rng(11)
    rows, labels, sizes = [], [], []
    for g in range(300):
        size, answered = 5, g % 4 == 0
        b = rng.normal(scale=3.0) + rng.normal(size=size)  # each group's level says nothing
        right = int(np.argmax(b))
        d = (4.0 if answered else 0.0) + 0.3 * rng.normal(size=size)
        if answered:
            d[right] -= 1.0
        rows.extend(np.stack([b, d], axis=1))
        labels.extend(float(answered and i == right) for i in range(size))
        sizes.append(size)
    x, y = np.asarray(rows), np.asarray(labels)
    grouped = fitted.fit("grouped", ["b", "d"], x, y, sizes=sizes)
    assert grouped == fitted.fit("grouped", ["b", "d"], x, y, sizes=sizes)  # deterministic
    assert isinstance(grouped, Logistic) and fitted.load(json.loads(json.dumps(grouped.to_json()))) == grouped
    starts = np.cumsum([0, *sizes[:-1]])
    answered_groups = [(s, s + n) for s, n in zip(starts, sizes, strict=True) if y[s : s + n].any()]

    def chosen_right(model: fitted.Fitted) -> float:
        return float(np.mean([y[a + int(np.argmax(model.predict(x[a:b])))] for a, b in answered_groups]))

    assert chosen_right(grouped) > 0.95 and chosen_right(Logistic.fit(["b", "d"], x, y)) < 0.5
    inside = np.concatenate([np.arange(a, b) for a, b in answered_groups])
    probs = grouped.predict(x[inside])  # calibrated within the groups with a right row
    assert probs.min() > 0.0 and probs.max() < 1.0
    assert probs[y[inside] == 1].mean() > 2 * probs[y[inside] == 0].mean()
    with pytest.raises(ValueError, match="sizes"):
        fitted.fit("grouped", ["b", "d"], x, y)
    with pytest.raises(ValueError, match="no group"):
        fitted.fit("grouped", ["b", "d"], x, np.zeros_like(y), sizes=sizes)


def test_every_kind_reads_back_from_its_json_and_predicts_the_same() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(1500, 3))
    y = (x[:, 0] * x[:, 1] + x[:, 2] > 0).astype(float)
    for kind in ("logistic", "trees", "blend"):
        model = fitted.fit(kind, ["a", "b", "c"], x, y)
        again = fitted.load(json.loads(json.dumps(model.to_json())))
        assert again == model and np.array_equal(again.predict(x), model.predict(x)), kind
    blend = fitted.fit("blend", ["a", "b", "c"], x, y)
    assert isinstance(blend, fitted.Blend)
    both = (blend.logistic.predict(x) + blend.trees.predict(x)) / 2
    assert np.allclose(blend.predict(x), both)


def test_the_committed_model_matches_the_features_the_code_computes(tmp_path: Path) -> None:
    model = ReaderModel.load(MODEL)
    assert model.sentence.features == SENTENCE_FEATURES and model.span.features == SPAN_FEATURES
    for one, width in ((model.sentence, len(SENTENCE_FEATURES)), (model.span, len(SPAN_FEATURES))):
        probs = one.predict(np.zeros((2, width)))  # a row of the code's width is what it reads
        assert probs.shape == (2,) and 0.0 < probs[0] < 1.0
    assert 0.0 < model.threshold < 1.0 and model.labels["any"]
    assert "train" in model.card["data"] and "dev" not in model.card["data"].replace("never the dev", "")
    model.dump(tmp_path / "copy.json")
    again = ReaderModel.load(tmp_path / "copy.json")
    assert (
        again.sentence == model.sentence and again.span == model.span and again.threshold == model.threshold
    )


def test_an_artifact_fitted_on_other_signals_is_refused_with_what_to_do(tmp_path: Path) -> None:
    data = json.loads(MODEL.read_text())
    data["span"]["features"] = data["span"]["features"][:-1]  # as an older version wrote it
    older = tmp_path / "reader.json"
    older.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="make train"):
        ReaderModel.load(older)


def test_the_short_answer_is_the_entity_asked_for(verity: Verity) -> None:
    question = analyse("Which team won the championship game on Sunday?", verity.parser)
    sentence = "The Philadelphia Eagles won the championship game on Sunday, beating the Kansas City Chiefs."
    span = verity.reader.short_answer(question, sentence, [sentence], 0.9, verity.retriever.corpus)
    assert span is not None and sentence[span.start : span.end] == span.text
    assert "Eagles" in span.text or "Chiefs" in span.text  # a team, not the day or the game
    assert (
        verity.reader.short_answer(question, "It rained.", ["It rained."], 0.9, verity.retriever.corpus)
        is None
    )


def test_a_persons_title_is_part_of_the_short_answer(verity: Verity) -> None:
    question = analyse("Which political figure faced questions about classified documents?", verity.parser)
    sentence = "President Joe Biden faced questions about classified documents found in his former office."
    span = verity.reader.short_answer(question, sentence, [sentence], 0.9, verity.retriever.corpus)
    assert span is not None and span.text == "President Joe Biden"
    assert sentence[span.start : span.end] == span.text
    # a title that holds a name keeps all of it, not its last word ("Carolina Gov. Roy Cooper")
    who = analyse("Which politician removed himself from consideration as a running mate?", verity.parser)
    sentence = "WASHINGTON — North Carolina Gov. Roy Cooper, a leading contender, has taken his name out."
    texts = [s.text for s in verity.reader.spans(who, sentence)]
    assert "North Carolina Gov. Roy Cooper" in texts and "Carolina Gov. Roy Cooper" not in texts


def test_a_sentence_that_only_restates_the_question_does_not_answer_it(
    verity: Verity, tmp_path: Path
) -> None:
    """A quiz page in the corpus quotes the question word for word; the article that answers must lead."""
    quiz = (
        "Quiz of the week. Which club won the rowing final in Lisbon this week? Send your answers by Friday."
    )
    report = (
        "Rowers from across Europe gathered on the Tagus. "
        "Benfica won the rowing final in Lisbon on Sunday, beating Porto by two lengths."
    )
    other = Verity(
        Settings(data_dir=tmp_path, corpus_dir=tmp_path / "none", collection="restating"), models=verity
    )
    other.index([Document("quiz", "Quiz", quiz), Document("report", "Final", report)], progress=False)
    answer = other.ask("Which club won the rowing final in Lisbon this week?")
    assert answer.status == "answered", answer
    assert "Benfica" in answer.answer and "Which club" not in answer.answer
    other.index([Document("quiz", "Quiz", quiz)], prune=True, progress=False)
    refused = other.ask("Which club won the rowing final in Lisbon this week?")
    assert refused.status == "refused" and "Which club" not in refused.answer, refused


def test_the_focus_noun_is_found_where_the_parse_misses_it(verity: Verity) -> None:
    """What is asked for keys the learned label table: "which fast-food chain" asks for a chain."""
    focus = {
        "Which fast-food chain is upgrading its burgers?": "chain",
        "Scientists have revived what animal that was frozen for years?": "anim",
        "Which two automakers are discussing a merger?": "automak",
        "Which Pacific nation was struck by an earthquake?": "nation",
        "The rocket exploded minutes after launch. What was the rocket's name?": "rocket",
        "What is the name of the new variant?": "variant",
        "What did the minister say?": None,
    }
    assert {q: analyse(q, verity.parser).focus for q in focus} == focus


def test_the_short_answer_is_the_fullest_mention_of_the_name(verity: Verity) -> None:
    question = analyse("Who gave bonuses to her truck drivers?", verity.parser)
    sentence = "Fans of Taylor Swift were not surprised when Swift gave every truck driver a $100,000 bonus."
    # a span model that prefers short entities: it picks "Swift", the reader shows the fullest mention
    weights = [5.0 if f == "is_entity" else -5.0 if f == "tokens" else 0.0 for f in SPAN_FEATURES]
    short = Logistic(SPAN_FEATURES, [0.0] * len(weights), [1.0] * len(weights), weights, 0.0)
    committed = verity.reader.model
    reader = Reader(
        ReaderModel(committed.sentence, short, committed.labels, committed.threshold, 0.01), verity.parser
    )
    spans = reader.spans(question, sentence)
    probs = short.predict(
        reader.span_rows(question, sentence, spans, [sentence], 0.9, verity.retriever.corpus)
    )
    assert spans[int(probs.argmax())].text == "Swift"
    span = reader.short_answer(question, sentence, [sentence], 0.9, verity.retriever.corpus)
    assert span is not None and span.text == "Taylor Swift", span
    assert sentence[span.start : span.end] == span.text


def test_an_unseen_focus_noun_reads_the_row_of_the_most_similar_one(verity: Verity) -> None:
    """No training question asked "which nation"; the learned table's "country" row serves it."""
    model = verity.reader.model
    assert "focus:nation" not in model.labels and model.focus_words["focus:countri"] == "country"
    nation = analyse("Which Pacific nation was struck by an earthquake this week?", verity.parser)
    assert nation.focus_word == "nation" and verity.reader.key(nation) == "focus:countri"
    assert model.label_fit(verity.reader.key(nation), "GPE") > model.label_fit("any", "GPE")
    odd = analyse("Which sandwich did the mayor eat this week?", verity.parser)
    assert verity.reader.key(odd) == "focus:sandwich"  # nothing close: the table's row for all questions
    assert model.label_fit("focus:sandwich", "GPE") == model.label_fit("any", "GPE")


def test_a_dateline_and_a_word_the_question_names_are_not_the_short_answer(verity: Verity) -> None:
    question = analyse(
        "The Botswanan president has threatened to send which animals to Germany?", verity.parser
    )
    sentence = "Botswana's president threatened to send 20,000 elephants to Germany."
    spans = [s.text for s in verity.reader.spans(question, sentence)]
    assert "Botswana" not in spans and any("elephants" in s for s in spans)  # "Botswanan" names it
    dated = "WASHINGTON – The Supreme Court agreed to hear a challenge to a Tennessee law on Monday."
    where = analyse("The Supreme Court will hear a challenge to a law of which state?", verity.parser)
    spans = verity.reader.spans(where, dated)
    rows = verity.reader.span_rows(where, dated, spans, [dated], 0.9, verity.retriever.corpus)
    flagged = dict(zip([s.text for s in spans], rows[:, SPAN_FEATURES.index("dateline")], strict=True))
    assert flagged.get("WASHINGTON") == 1.0 and flagged.get("Tennessee") == 0.0
    span = verity.reader.short_answer(where, dated, [dated], 0.9, verity.retriever.corpus)
    assert span is not None and span.text == "Tennessee"


def test_a_question_asking_for_two_gets_both_names(verity: Verity) -> None:
    sentence = (
        "Two of Japan's biggest automakers, Honda and Nissan, have reportedly begun merger talks, "
        "according to a report."
    )
    two = analyse("Which two automakers are discussing a possible merger?", verity.parser)
    span = verity.reader.short_answer(two, sentence, [sentence], 0.9, verity.retriever.corpus)
    assert span is not None and span.text == "Honda and Nissan"
    assert sentence[span.start : span.end] == span.text
    one = analyse("Which automaker is discussing a possible merger with Nissan?", verity.parser)
    single = verity.reader.short_answer(one, sentence, [sentence], 0.9, verity.retriever.corpus)
    assert single is not None and single.text == "Honda"


def test_a_possessive_marker_is_in_no_span(verity: Verity) -> None:
    question = analyse("Whose children's novels will be published in unexpurgated versions?", verity.parser)
    sentence = "Penguin Random House will publish classic versions of Roald Dahl's children's novels."
    spans = {s.text for s in verity.reader.spans(question, sentence)}
    assert "Roald Dahl" in spans and not any(s.endswith(("'s", "’s")) for s in spans)
    missile = analyse("Which US state will train Ukrainians on the Patriot system?", verity.parser)
    aimed = "Ukrainians are bound for Oklahoma to help counter Russia's barrage of its civilian population."
    texts = {s.text for s in verity.reader.spans(missile, aimed)}
    assert {"Oklahoma", "Russia", "barrage"} <= texts and not any(t.startswith(("'s", "’s")) for t in texts)
    for s in verity.reader.spans(missile, aimed):
        assert aimed[s.start : s.end] == s.text
    brand = analyse("Which fast-food chain will raise the price of the Big Mac?", verity.parser)
    named = "McDonald's said it would raise the price of the Big Mac."
    assert "McDonald's" in {s.text for s in verity.reader.spans(brand, named)}  # a name, not a possessive


def test_the_focus_phrase_keeps_the_words_that_narrow_the_focus_noun(verity: Verity) -> None:
    q = analyse("Which Pacific nation was struck by a magnitude 7.3 earthquake?", verity.parser)
    assert q.focus_word == "nation" and q.focus_phrase == "pacific nation"
    q = analyse("Who won the race?", verity.parser)
    assert q.focus_phrase is None


def test_an_answer_named_by_several_sources_gets_their_votes(verity: Verity) -> None:
    from service.answering.reader import _votes

    texts = [
        ("a", "The Kansas City Chiefs beat the Philadelphia Eagles."),
        ("b", "The Kansas City Chiefs won again."),
        ("c", "Fans of the Kansas City Chiefs celebrated."),
    ]
    candidates = [_candidate(d, t) for d, t in texts]
    found = [list(verity.parser.sentence(t).ents) for _, t in texts]
    votes = _votes(candidates, found, verity.reader.model, "any")
    assert votes[0] > 0 and votes[0] >= votes[1] >= 0


def test_a_span_is_asked_when_each_of_its_stems_is_a_question_stem_or_begins_one(verity: Verity) -> None:
    from service.answering.reader import _asked
    from service.answering.text import stem_set

    def reference(text: str, question: str) -> bool:  # the definition, checked stem by stem
        mine, asked = stem_set(text), stem_set(question)
        return bool(mine) and all(
            m in asked or (len(m) >= 4 and any(a.startswith(m) for a in asked)) for m in mine
        )

    question = analyse("Which officials met the Botswanan president in Gaborone?", verity.parser)
    cases = {
        "Botswana": True,  # begins "botswanan"
        "Gabor": True,  # four letters or more may begin a stem
        "Pre": False,  # three may not ("presid")
        "Gaborone": True,
        "the president": True,  # "the" is no stem: what is left is named
        "Botswana and Egypt": False,
        "Egypt": False,
        "the": False,  # nothing to name
    }
    for text, want in cases.items():
        assert _asked(text, question) is want, text
        assert reference(text, question.text) is want, text


def test_the_runner_up_naming_another_answer_is_shown_from_another_source_first(verity: Verity) -> None:
    """The composer's different-answer rule: another source's runner-up (a disagreement) before the same
    article's, the same article's when no other source names one, nothing below a share of the best."""
    from service.answering.compose import _OTHER_SHARE

    question = analyse("Which state did the burger chain expand to this week?", verity.parser)
    top = _candidate("a", "The burger chain expanded to Texas this week, its owner said.", score=0.8)
    same = _candidate("a", "The burger chain will also open a hub in Tennessee.", 100, 0.6)
    other = _candidate("b", "The burger chain is expanding to Oklahoma.", score=0.5)
    silent = _candidate("c", "The burger chain said it was expanding.", score=0.7)
    composer = verity.composer
    assert composer._other_answer(question, top, [top, silent, same, other]) is other
    assert composer._other_answer(question, top, [top, silent, same]) is same
    low = _candidate("a", "Its first restaurants were in California.", 200, 0.8 * _OTHER_SHARE * 0.9)
    assert composer._other_answer(question, top, [top, silent, low]) is None


def test_a_span_named_by_the_focus_noun_and_one_restating_it_are_told_apart(verity: Verity) -> None:
    """In "the overdose reversal drug Narcan" the name stands beside the noun asked for (`focus_near`);
    the chunk that holds that noun only restates what is asked (`restates`)."""
    question = analyse("A committee endorsed over-the-counter sales of what drug?", verity.parser)
    sentence = "A committee today endorsed over-the-counter sales of the overdose reversal drug Narcan."
    spans = verity.reader.spans(question, sentence)
    rows = verity.reader.span_rows(question, sentence, spans, [sentence], 0.9, verity.retriever.corpus)
    near, restates = SPAN_FEATURES.index("focus_near"), SPAN_FEATURES.index("restates")
    by_text = {s.text: row for s, row in zip(spans, rows, strict=True)}
    assert by_text["Narcan"][near] == 1.0 and by_text["Narcan"][restates] == 0.0
    chunk = next(t for t in by_text if "drug" in t and "Narcan" not in t)
    assert by_text[chunk][restates] == 1.0


def test_a_sentence_shown_as_the_one_the_best_leans_on_is_not_shown_again(verity: Verity) -> None:
    """The composer may choose the sentence the best one leans on as a second sentence (the same article's
    other answer): the answer shows it once, before the best."""
    from service.answering.compose import Composition

    first = "The burger chain opened a hub in Tennessee on Tuesday."
    second = "But it said restaurants in Texas would come first."
    text = f"{first} {second}"
    before, after = Sentence(first, 0, len(first)), Sentence(second, len(first) + 1, len(text))
    passage = Passage("lean", "Burgers", 0, [before, after], text)
    leaning = Candidate("lean:0", passage, after, 1, before, score=0.8)
    leaned_on = Candidate("lean:0", passage, before, 0, None, score=0.6)
    question = analyse("Which state did the burger chain expand to?", verity.parser)
    composition = Composition([leaned_on, leaning], best=leaning, candidates=[leaning, leaned_on])
    response = verity.responder.answer(question, composition, verity.retriever.corpus)
    assert response.answer.count(first) == 1 and response.answer.index(first) < response.answer.index(second)
    assert len(response.claims) == 2 and len(response.citations) == 2


def test_the_short_answer_comes_from_the_second_sentence_when_the_best_names_no_one(verity: Verity) -> None:
    """The best sentence restates the event without naming who; the answer's second sentence does: the
    short answer is its span, cited to that sentence, with offsets into that sentence's document."""
    from service.answering.compose import Composition

    question = analyse("Which actress won the award for best actress at the Golden Globes?", verity.parser)
    restated = "The award for best actress at the Golden Globes was the night's surprise."
    best = _candidate("a", restated, 0, 0.8)
    named = "Michelle Yeoh won the award for her role in the film, the jury said on Tuesday."
    second = _candidate("b", named, 40, 0.7)
    composition = Composition([best, second], best=best, candidates=[best, second])
    corpus = verity.retriever.corpus
    own = verity.reader.short_answer(question, restated, [restated, named], 0.8, corpus)
    theirs = verity.reader.short_answer(question, named, [restated, named], 0.7, corpus)
    assert theirs is not None and (own is None or own.score < theirs.score)  # "night" is no actress
    response = verity.responder.answer(question, composition, verity.retriever.corpus)
    short = response.short_answer
    assert short is not None and short.text == "Michelle Yeoh"
    cited = response.citations[short.citation - 1]
    assert cited.document_id == "b" and (short.start, short.end) == (40, 40 + len("Michelle Yeoh"))


def test_the_short_answer_can_come_from_the_sentence_the_best_leans_on(verity: Verity) -> None:
    """ "He said ..." answers with the sentence before it, shown with it: the name is there, and the short
    answer cites that sentence, with offsets into the document."""
    from service.answering.compose import Composition

    first = "Andy Reid spoke to reporters in Kansas City after the game on Sunday."
    second = "He said the team would sign a new quarterback."
    text = f"{first} {second}"
    before, after = Sentence(first, 0, len(first)), Sentence(second, len(first) + 1, len(text))
    leaning = Candidate("r:0", Passage("r", "Chiefs", 0, [before, after], text), after, 1, before, score=0.8)
    question = analyse("Which coach said the team would sign a new quarterback?", verity.parser)
    corpus = verity.retriever.corpus
    assert verity.reader.short_answer(question, second, [second], 0.8, corpus) is None  # names no one
    composition = Composition([leaning], best=leaning, candidates=[leaning])
    response = verity.responder.answer(question, composition, corpus)
    short = response.short_answer
    assert short is not None and short.text == "Andy Reid"
    cited = response.citations[short.citation - 1]
    assert cited.text == first and text[short.start : short.end] == "Andy Reid"


def test_the_proper_nouns_before_a_persons_title_are_a_span_of_their_own(verity: Verity) -> None:
    """spaCy tags no entity in "Former Starbucks CEO Howard Schultz": the company is still a candidate."""
    question = analyse("The former CEO of which company testified at a Senate hearing?", verity.parser)
    sentence = "Former Starbucks CEO Howard Schultz testified in a Senate hearing on Wednesday."
    texts = [s.text for s in verity.reader.spans(question, sentence)]
    assert "Starbucks" in texts and "Howard Schultz" in " ".join(texts)


def test_a_best_sentence_naming_nothing_asked_for_is_followed_by_the_runner_up(verity: Verity) -> None:
    """The best sentence names no insect: the next one the reader scores well enough follows it, from any
    source and not as a disagreement; one below `_OTHER_SHARE` of the best does not."""
    from service.answering.compose import _OTHER_SHARE
    from service.answering.retrieve import Corpus

    question = analyse("Which invasive insect has been declared eradicated?", verity.parser)
    top = _candidate("a", "The invasive insect has been declared eradicated, officials said.", score=0.8)
    runner = _candidate("b", "The northern giant hornet has been eradicated, officials said.", score=0.6)
    low = _candidate("c", "The giant hornet was first seen near the border.", score=0.8 * _OTHER_SHARE * 0.9)
    for c in (top, runner, low):
        c.dense = c.coverage = c.relevance = 0.9
        c.typed = True
    corpus = Corpus({c.passage_id: c.passage for c in (top, runner, low)}, lexical=False)
    composition = verity.composer.compose(question, [top, runner, low], corpus)
    assert [c.passage.document_id for c in composition.sentences] == ["a", "b"]
    assert composition.best is top and not composition.disagreements
    alone = verity.composer.compose(question, [top, low], corpus)
    assert [c.passage.document_id for c in alone.sentences] == ["a"]


def test_a_sentences_entities_are_read_once_and_kept_on_its_parse(verity: Verity) -> None:
    from service.answering.reader import _entities

    doc = verity.parser.sentence("Michelle Yeoh won the award in Los Angeles on Tuesday, her studio said.")
    ents = _entities(doc)
    assert [(e.text, e.label_, e.start, e.end) for e in ents] == [
        (e.text, e.label_, e.start, e.end) for e in doc.ents
    ]
    assert {"Michelle Yeoh", "Los Angeles"} <= {e.text for e in ents}
    assert _entities(verity.parser.sentence(doc.text)) is ents  # the cached parse keeps them


def test_a_span_named_in_most_of_the_corpus_reads_as_less_rare() -> None:
    """`rarity`: "Texas", in every sentence of this corpus, against "Oklahoma", in one of them."""
    texts = [f"Storms hit Texas on day {i}." for i in range(20)] + ["A tornado hit Oklahoma."]
    sentences, at = [], 0
    for t in texts:
        sentences.append(Sentence(t, at, at + len(t)))
        at += len(t) + 1
    passage = Passage("d", "d", 0, sentences, " ".join(texts))
    corpus = Corpus({"d:0": passage}, lexical=False)
    common, rare = _rarity("Texas", corpus), _rarity("Oklahoma", corpus)
    assert 0.0 < common < rare <= 1.0
    assert _rarity("Fort Sill", corpus) > rare  # words it never saw: the rarest


def test_a_span_in_its_articles_headline_is_told_by_its_words_or_a_persons_surname() -> None:
    headline = stem_set("Ukraine live updates: 100 Ukrainian troops to train in Oklahoma")
    assert _in_title(Span("Oklahoma", 0, 8, "GPE"), headline)
    assert not _in_title(Span("Russia", 0, 6, "GPE"), headline)
    assert _in_title(Span("troop", 0, 5, "CHUNK"), headline)  # "troops": the same stem
    hurts = stem_set("Jalen Hurts' contract makes Eagles QB highest-paid NFL player ever")
    assert _in_title(Span("Jalen Hurts", 0, 11, "PERSON"), hurts)
    assert _in_title(Span("Coach Jalen Hurts", 0, 17, "PERSON"), hurts)  # a person's surname will do
    assert not _in_title(Span("Ohio State", 0, 10, "GPE"), stem_set("The states that voted"))  # a place: all
    assert not _in_title(Span("Oklahoma", 0, 8, "GPE"), frozenset())


def test_no_span_starts_or_ends_with_a_conjunction(verity: Verity) -> None:
    """spaCy's noun chunk "Thirty-six East Coast and Gulf Coast ports", with its first words taken by an
    entity, once left the span "and Gulf Coast ports" as a short answer."""
    question = analyse("Which union workers went on strike this week against automation?", verity.parser)
    sentence = (
        "Thirty-six East Coast and Gulf Coast ports shut down as 45,000 union workers walked off the job."
    )
    texts = [s.text for s in verity.reader.spans(question, sentence)]
    assert texts and "ports" in " ".join(texts)
    assert not any(t.split()[0].lower() in ("and", "or", "but") for t in texts)
    assert not any(t.split()[-1].lower() in ("and", "or", "but") for t in texts)


def test_a_name_given_by_one_word_is_the_full_name_from_earlier_in_the_article(
    verity: Verity, tmp_path: Path
) -> None:
    """News names a person in full at first mention and by surname after: a short answer "Hurts" is
    given as "Jalen Hurts", cited to the sentence that names him in full, read from its stored parse."""
    text = (
        "Jalen Hurts is feeling the love in the City of Brotherly Love.\n\n"
        "The team's front office met with agents for most of the spring. "
        "Hurts agreed on Monday to a five-year contract extension worth $255 million."
    )
    other = Verity(
        Settings(data_dir=tmp_path, corpus_dir=tmp_path / "none", collection="surname"), models=verity
    )
    other.index([Document("deal", "Eagles sign their quarterback", text)], progress=False)
    before = dict(other.work.counts)
    response = other.ask("Which quarterback agreed to a five-year contract extension worth $255 million?")
    assert response.status == "answered", response
    short = response.short_answer
    assert short is not None and short.text == "Jalen Hurts", short
    cited = response.citations[short.citation - 1]
    assert cited.text.startswith("Jalen Hurts is feeling") and text[short.start : short.end] == "Jalen Hurts"
    assert "Hurts agreed on Monday" in response.answer  # the answer still shows the sentence that answers
    assert other.work.counts == before  # the earlier sentence's stored parse, not a parse at query time


def test_a_title_in_quotes_is_a_span_of_its_own(verity: Verity) -> None:
    """spaCy's small model tags a word of a quoted title or nothing ("Grinch"): the title in quotes is a
    candidate as a whole, a possessive's closing quote and a quoted word of comment are not titles."""
    question = analyse("Which famous Seuss book will get a sequel?", verity.parser)
    sentence = (
        "Dr. Seuss' 'How the Grinch Stole Christmas!' gets a book sequel, the \"classic\" publisher said."
    )
    spans = {s.text: s for s in verity.reader.spans(question, sentence)}
    title = spans.get("How the Grinch Stole Christmas!")
    assert title is not None and title.label == QUOTED, spans
    assert sentence[title.start : title.end] == title.text
    assert not any(t.startswith(("' ", "s' ")) or t == "classic" for t in spans)
    corpus = verity.retriever.corpus
    rows = verity.reader.span_rows(question, sentence, list(spans.values()), [sentence], 0.9, corpus)
    assert rows.shape == (len(spans), len(SPAN_FEATURES))
