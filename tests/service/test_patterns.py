"""The text rules of request fields (`service/patterns.py`) mean one thing everywhere.

Each pattern is what the OpenAPI schema states and what the validator checks, so: its character
classes are exactly Python's whitespace and Unicode's control characters; it agrees with the plain
rule it stands for (the validators' former code) on generated strings; and a JSON Schema validator in
another regex dialect (jsonschema-rs, Rust, which schemathesis uses) reads it the same way Python does.
"""

from __future__ import annotations

import re
import sys
import unicodedata

import jsonschema_rs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service import patterns
from service.schemas import AskRequest

EVERY_CHARACTER = "".join(map(chr, range(sys.maxunicode + 1)))
# strings made mostly of the characters the rules are about, with some of everything else
TRICKY = st.text(
    alphabet=st.sampled_from(list(" \t\n\r\x00\x07\x0b\x1f\x7f\x85\x9f\xa0\u2028\u3000\ufeff./\\aZ0é")),
    max_size=6,
) | st.text(max_size=6)


def _question_rule(value: str) -> bool:
    return bool(value.strip()) and not any(
        unicodedata.category(c) == "Cc" and c not in "\t\n\r" for c in value
    )


def _id_rule(value: str) -> bool:
    return (
        bool(value.strip())
        and value == value.strip()
        and "/" not in value
        and "\\" not in value
        and value not in (".", "..")
        and not any(unicodedata.category(c) == "Cc" for c in value)
    )


def _title_rule(value: str) -> bool:
    return bool(value.strip()) and not any(unicodedata.category(c) == "Cc" for c in value)


def _one_line_rule(value: str) -> bool:
    return not any(unicodedata.category(c) == "Cc" for c in value)


RULES = {
    "QUESTION": (patterns.QUESTION, _question_rule),
    "TEXT": (patterns.TEXT, _question_rule),
    "TITLE": (patterns.TITLE, _title_rule),
    "ONE_LINE": (patterns.ONE_LINE, _one_line_rule),
    "DOCUMENT_ID": (patterns.DOCUMENT_ID, _id_rule),
}


def test_classes_are_pythons_whitespace_and_unicodes_control_characters() -> None:
    assert re.findall(f"[{patterns.WHITESPACE}]", EVERY_CHARACTER) == [
        c for c in EVERY_CHARACTER if c.isspace()
    ]
    controls = [c for c in EVERY_CHARACTER if unicodedata.category(c) == "Cc"]
    assert re.findall(f"[{patterns.CONTROL}]", EVERY_CHARACTER) == controls
    assert re.findall(f"[{patterns.CONTROL_IN_TEXT}]", EVERY_CHARACTER) == [
        c for c in controls if c not in "\t\n\r"
    ]


@pytest.mark.parametrize("name", list(RULES))
@settings(max_examples=400, deadline=None)
@given(value=TRICKY)
def test_pattern_is_the_rule_in_python_and_in_rust(name: str, value: str) -> None:
    pattern, rule = RULES[name]
    expected = rule(value)
    assert patterns.matches(pattern, value) == expected, (name, value)
    rust = jsonschema_rs.validator_for({"type": "string", "pattern": pattern})
    assert rust.is_valid(value) == expected, (name, value)


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("a", True),
        (".", False),
        ("..", False),
        ("...", True),
        (".a", True),
        ("a.", True),
        (" a", False),
        ("a b", True),
        ("a/b", False),
        ("a\\b", False),
        ("a\n", False),
        ("\u00a0a", False),
    ],
)
def test_document_ids(value: str, valid: bool) -> None:
    assert patterns.matches(patterns.DOCUMENT_ID, value) is valid


def test_the_schema_states_the_pattern_the_validator_checks() -> None:
    question = AskRequest.model_json_schema()["properties"]["question"]
    assert question["pattern"] == patterns.QUESTION and question["minLength"] == 1
    for value, message in [
        ("  ", "must not be empty"),
        ("Who\x00?", "control characters"),
        ("\x85", "control"),
    ]:
        with pytest.raises(ValueError, match=message):
            AskRequest(question=value)
    assert AskRequest(question="  Who won?\n").question == "Who won?"
