"""Follow-up questions resolved against the conversation, through the real pipeline and API."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service import evaluation
from service.answering.followup import resolve
from service.answering.pipeline import Verity
from service.schemas import Turn

REPO = Path(__file__).resolve().parents[2]


def _turns(*pairs: tuple[str, str]) -> list[Turn]:
    return [Turn(role=role, content=content) for role, content in pairs]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("history", "question", "resolved"),
    [
        (
            [
                ("user", "Who is John Bolton?"),
                ("assistant", "John Bolton was the national security adviser."),
            ],
            "When did he leave the White House?",
            "When did John Bolton leave the White House?",
        ),
        (
            [
                ("user", "What did the city council decide about the new bridge?"),
                ("assistant", "It approved it."),
            ],
            "Who opposed it?",
            "Who opposed the new bridge?",
        ),
        (
            [("user", "Who is Mike Lee?"), ("assistant", "A senator.")],
            "Why was Soleimani killed in Baghdad?",
            "Why was Soleimani killed in Baghdad?",
        ),
        (
            [("user", "Who carried out the Kirkuk attack?"), ("assistant", "The articles disagree.")],
            "When was the rocket attack that killed an American contractor?",
            "When was the rocket attack that killed an American contractor?",
        ),
    ],
)
def test_resolution(verity: Verity, history: list[tuple[str, str]], question: str, resolved: str) -> None:
    assert resolve(question, _turns(*history), verity.parser) == resolved


def test_no_history_leaves_the_question_alone(verity: Verity) -> None:
    assert resolve("Was he in favor of it?", [], verity.parser) == "Was he in favor of it?"


def test_api_echoes_the_resolved_question(client: TestClient) -> None:
    history = [
        {"role": "user", "content": "Who is John Bolton?"},
        {"role": "assistant", "content": "John Bolton was Trump's national security adviser."},
    ]
    body = client.post(
        "/v1/ask", json={"question": "When did he leave the White House?", "history": history}
    ).json()
    assert body["resolved_question"] == "When did John Bolton leave the White House?"
    assert body["status"] == "answered", body
    assert "September" in body["answer"]


def test_premise_check_applies_to_the_resolved_question(client: TestClient) -> None:
    history = [
        {"role": "user", "content": "What did Mike Pompeo do as CIA director?"},
        {
            "role": "assistant",
            "content": "Mike Pompeo urged the president to take a more aggressive approach.",
        },
    ]
    body = client.post(
        "/v1/ask", json={"question": "Why did Trump fire him in September?", "history": history}
    )
    data = body.json()
    assert data["status"] == "refused", data
    assert data["refusal"]["reason"] == "false_premise"
    assert "Bolton" in data["answer"]


def test_dev_set_follow_ups_pass(verity: Verity) -> None:
    items = [it for it in evaluation.load_items(REPO / "seeds" / "eval-dev.jsonl") if it.get("history")]
    assert items
    report = evaluation.run(verity, items)
    assert report.summary()["answer_accuracy"] == 1.0, report.rows
