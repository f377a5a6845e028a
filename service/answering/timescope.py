"""What time a question means, read against the day it is asked (`as_of`).

A news corpus holds several years of a recurring event side by side (the 148th and the 149th show, last
year's winner and this year's), so a sentence can be on topic and still not answer. The scope is:

* explicit years ("in 2024"), and years implied by relative terms read against `as_of` ("this year",
  "last year");
* editions: ordinals ("149th", "the 97th Academy Awards") and Roman numerals of a named event
  ("Super Bowl LIX");
* recency: "this week", "latest", "recently", "so far" ... — the question is about the days before
  `as_of`, so an article's age counts against it.

`judge(scope, text, published)` says whether a sentence (with its article's date) fits the scope and,
when it does not, why ("about 2023, not 2024"). These signals feed the learned reader (`reader.py`),
which weighs them; a sentence explicitly about another edition is never the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

_YEAR = re.compile(r"\b(19[5-9]\d|20[0-4]\d)\b")
# a year a sentence measures from ("the first debate since 2020") is not the time it is about
_SINCE_YEAR = re.compile(r"\bsince (?:early |late |mid-)?(19[5-9]\d|20[0-4]\d)\b", re.I)
_ORDINAL = re.compile(r"\b(\d{1,3})(?:st|nd|rd|th)\b", re.I)
_ROMAN = re.compile(r"\b(Super Bowl|WrestleMania|Olympiad|Vatican)\s+([IVXLC]{2,7})\b")
_THIS_YEAR = re.compile(r"\b(this|the current) (year|season)\b|\bso far this year\b", re.I)
_LAST_YEAR = re.compile(r"\blast (year|season)\b", re.I)
_RECENT = re.compile(
    r"\b(this (week|month|weekend|past week)|last week|latest|recently|recent|so far|currently|now|"
    r"newly|just|upcoming|this (morning|afternoon|evening)|on (monday|tuesday|wednesday|thursday|friday|"
    r"saturday|sunday))\b",
    re.I,
)


@dataclass(frozen=True)
class TimeScope:
    as_of: date
    years: frozenset[int] = frozenset()
    editions: frozenset[str] = frozenset()  # "149", "LIX"
    recent: bool = False

    @property
    def bounded(self) -> bool:
        return bool(self.years or self.editions or self.recent)


@dataclass(frozen=True)
class Fit:
    """How a sentence fits the question's time scope."""

    year_match: bool  # it names a year of the scope
    other_year: bool  # it names years, none of the scope's
    other_edition: bool  # it names an edition, not the one asked about
    age_days: int | None  # its article's age on `as_of` (None: undated)
    reason: str | None  # why it is about another time, for a refusal


def scope_of(question: str, as_of: date) -> TimeScope:
    years = {int(y) for y in _YEAR.findall(question)}
    if _THIS_YEAR.search(question):
        years.add(as_of.year)
    if _LAST_YEAR.search(question):
        years.add(as_of.year - 1)
    editions = {m.group(1) for m in _ORDINAL.finditer(question)}
    editions |= {m.group(2) for m in _ROMAN.finditer(question)}
    return TimeScope(as_of, frozenset(years), frozenset(editions), bool(_RECENT.search(question)))


def editions_in(text: str) -> set[str]:
    return {m.group(1) for m in _ORDINAL.finditer(text)} | {m.group(2) for m in _ROMAN.finditer(text)}


@lru_cache(maxsize=50_000)
def _times_in(text: str) -> tuple[frozenset[int], frozenset[str]]:
    """The years (but those after "since") and the editions a sentence names: a corpus sentence is judged
    for every question that retrieves it, and the regular expressions were a twentieth of a request's
    Python time."""
    years = frozenset(int(y) for y in _YEAR.findall(_SINCE_YEAR.sub("", text)))
    return years, frozenset(editions_in(text))


def judge(scope: TimeScope, text: str, published: date | None) -> Fit:
    years, said = _times_in(text)
    year_match = bool(years & scope.years)
    other_year = bool(scope.years and years and not year_match)
    other_edition = bool(scope.editions and said and not said & scope.editions)
    age = (scope.as_of - published).days if published is not None else None
    reason = None
    if other_edition:
        reason = f"about the {_edition(sorted(said)[0])}, not the {_edition(sorted(scope.editions)[0])}"
    elif other_year:
        reason = f"about {min(years)}, not {min(scope.years)}"
    elif scope.years and published is not None and not years and published.year not in scope.years:
        if all(published.year > y + 1 or published.year < y for y in scope.years):
            reason = f"from an article of {published.isoformat()}, not about {min(scope.years)}"
    elif scope.recent and age is not None and age > 400:
        reason = f"from an article of {published.isoformat() if published else 'another year'}"
    return Fit(year_match, other_year, other_edition, age, reason)


def _edition(value: str) -> str:
    return f"{value}{_suffix(int(value))}" if value.isdigit() else value


def _suffix(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
