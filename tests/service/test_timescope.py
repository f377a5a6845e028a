"""The time a question means, read against the day it is asked, and how a sentence fits it."""

from __future__ import annotations

from datetime import date

from service.answering.timescope import judge, scope_of

AS_OF = date(2025, 2, 14)


def test_years_editions_and_recency() -> None:
    scope = scope_of("Who won the 2024 race?", AS_OF)
    assert scope.years == {2024} and not scope.recent
    assert scope_of("Who won the award last year?", AS_OF).years == {2024}
    assert scope_of("Which team won Super Bowl LIX this week?", AS_OF).editions == {"LIX"}
    assert scope_of("Who hosted the 97th Academy Awards?", AS_OF).editions == {"97"}
    assert scope_of("Which film won this week?", AS_OF).recent
    assert not scope_of("Which film won?", AS_OF).bounded


def test_a_sentence_about_another_year_or_edition_does_not_fit() -> None:
    scope = scope_of("Who won the 2025 race?", AS_OF)
    fit = judge(scope, "She won the 2024 race by a length.", date(2024, 5, 1))
    assert fit.other_year and not fit.year_match and fit.reason == "about 2024, not 2025"
    assert judge(scope, "She won the 2025 race.", date(2025, 2, 1)).reason is None
    edition = judge(scope_of("Who hosted the 149th show?", AS_OF), "He hosted the 148th show.", None)
    assert edition.other_edition and edition.reason == "about the 148th, not the 149th"
    old = judge(scope_of("Who won this week?", AS_OF), "He won the vote.", date(2019, 1, 1))
    assert old.age_days is not None and old.age_days > 2000 and old.reason is not None


def test_a_year_the_sentence_measures_from_is_not_its_time() -> None:
    scope = scope_of("Where did the first 2024 debate take place?", AS_OF)
    since = judge(scope, "It was their first match-up since 2020, held in Atlanta.", date(2024, 6, 26))
    assert not since.other_year and since.reason is None
    about = judge(scope, "The 2020 debate was held in Cleveland.", date(2020, 9, 30))
    assert about.other_year and about.reason == "about 2020, not 2024"
