"""The claim verifier on crafted pairs, one per consistency check, with the real models.

The sentences are invented (not from the corpus or any eval set), so the checks are shown to be general:
only the corpus statistics (term rarity) come from the seeds.
"""

from __future__ import annotations

import pytest

from service.answering.pipeline import Verity

PAIRS = [
    # (claim, evidence, verdict, a word the explanation must contain)
    ("Smith approved the budget in March.", "Jones approved the budget in March.", "refuted", "Jones"),
    ("The treaty was signed on May 4.", "The treaty was signed on May 9.", "refuted", "May 9"),
    (
        "The council voted to build the bridge.",
        "The council voted not to build the bridge.",
        "refuted",
        "not",
    ),
    ("The mayor praised the police chief.", "The mayor denounced the police chief.", "refuted", "denounced"),
    ("The committee rejected the proposal.", "The committee approved the proposal.", "refuted", "approved"),
    (
        "Parliament voted to keep the foreign troops.",
        "Parliament voted to expel the foreign troops.",
        "refuted",
        "expel",
    ),
    (
        "The storm destroyed 40 homes in the town.",
        "The storm destroyed 12 homes in the town.",
        "refuted",
        "12",
    ),
    ("The summit was held in Paris.", "The summit was held in Berlin.", "refuted", "Berlin"),
    (
        "The mayor praised the police chief at a dinner in London.",
        "The mayor praised the police chief.",
        "not_enough_info",
        "",
    ),
    ("The mayor praised the police chief.", "The mayor praised the police chief on Monday.", "supported", ""),
]


@pytest.mark.parametrize(("claim", "evidence", "verdict", "reason"), PAIRS)
def test_crafted_pairs(verity: Verity, claim: str, evidence: str, verdict: str, reason: str) -> None:
    judgement = verity.verifier.check(claim, [evidence], verity.retriever.corpus)
    assert judgement.verdict == verdict, judgement.explanation
    assert reason in judgement.explanation


def test_unrelated_evidence_is_not_enough(verity: Verity) -> None:
    judgement = verity.verifier.check(
        "The senator praised the new highway.",
        ["Heavy rain flooded the valley overnight."],
        verity.retriever.corpus,
    )
    assert judgement.verdict == "not_enough_info"


def test_a_plan_is_not_a_deed(verity: Verity) -> None:
    """An attempted or plotted act neither supports nor refutes a claim that it happened."""
    judgement = verity.verifier.check(
        "The rebels captured the airport in Lagos.",
        ["The rebels plotted to capture the airport in Abuja."],
        verity.retriever.corpus,
    )
    assert judgement.verdict != "supported"
