"""The rules for the text fields of requests, as regular expressions: one definition for the validator
that enforces a rule and for the OpenAPI schema that states it (`pattern`), so the two cannot disagree.

The classes are spelled out (no `\\s`, no look-ahead) so that Python, ECMA-262 (browsers, OpenAPI tools)
and Rust (`jsonschema-rs`) read each pattern the same way. Whitespace is exactly what `str.strip()`
removes, control characters are Unicode's `Cc`; patterns are full matches (`^…$`).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

# What `str.isspace()` is true of (and `str.strip()` removes), and Unicode's `Cc`: fixed by the standard;
# tests/service/test_patterns.py checks them against Python's own tables.
WHITESPACE = (
    "\\u0009-\\u000d\\u001c-\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
)
CONTROL = "\\u0000-\\u001f\\u007f-\\u009f"
# control characters but tab, newline and carriage return: what multi-line text may not hold
CONTROL_IN_TEXT = "\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f"


def not_blank(forbidden: str) -> str:
    """Some character that is not whitespace, and none of `forbidden` (a class body)."""
    return f"^[^{forbidden}]*[^{WHITESPACE}{forbidden}][^{forbidden}]*$"


# A question or a claim: not blank, no control characters other than tab, newline, carriage return.
QUESTION = not_blank(CONTROL_IN_TEXT)
# An article's title (one line) and text (several).
TITLE = not_blank(CONTROL)
TEXT = not_blank(CONTROL_IN_TEXT)
# An optional one-line field (url, published, source, author): no control characters.
ONE_LINE = f"^[^{CONTROL}]*$"
# A document id: no control characters, slashes or backslashes; no whitespace at either end; not `.`
# or `..` (it is a path segment of /v1/documents/{id}).
_ANY = f"[^{CONTROL}/\\\\]"
_END = f"[^{WHITESPACE}{CONTROL}/\\\\]"
_END_NOT_DOT = f"[^{WHITESPACE}{CONTROL}/\\\\.]"
DOCUMENT_ID = f"^(?:{_END_NOT_DOT}|{_END_NOT_DOT}{_END}|\\.{_END_NOT_DOT}|{_END}{_ANY}+{_END})$"


def matches(pattern: str, value: str) -> bool:
    """Whether `value` follows `pattern` (a full match, as JSON Schema's anchored `pattern` reads it)."""
    return _compiled(pattern).fullmatch(value) is not None


def has_control(value: str, allow: str = "") -> bool:
    return any(unicodedata.category(c) == "Cc" and c not in allow for c in value)


def schema(pattern: str) -> dict[str, Any]:
    """The JSON Schema facets of a field that follows `pattern` (for `Field(json_schema_extra=…)`)."""
    return {"pattern": pattern}


_CACHE: dict[str, re.Pattern[str]] = {}


def _compiled(pattern: str) -> re.Pattern[str]:
    compiled = _CACHE.get(pattern)
    if compiled is None:
        compiled = _CACHE[pattern] = re.compile(pattern)
    return compiled
