"""A document's date from its input, else its URL, else a dateline near the top of its text."""

from __future__ import annotations

from datetime import date

from index.dates import from_text, from_url, parse_date, with_published
from index.documents import Document

TODAY = date(2025, 1, 1)


def test_dates_in_urls() -> None:
    assert from_url("https://www.cnn.com/2023/01/05/us/storm/index.html", TODAY) == date(2023, 1, 5)
    assert from_url("https://example.org/news/2024-03-08/vote", TODAY) == date(2024, 3, 8)
    assert from_url("https://example.org/a/20240308-vote.html", TODAY) == date(2024, 3, 8)
    assert from_url("https://example.org/2024/03/vote-results", TODAY) == date(2024, 3, 1)
    assert from_url("https://example.org/2031/01/05/future", TODAY) is None  # not yet written
    assert from_url("https://example.org/story/12345", TODAY) is None


def test_datelines_in_text() -> None:
    assert from_text("By Jo Roe\nPublished 10:03 AM EST Jan. 5, 2023\nThe storm ...", TODAY) == date(
        2023, 1, 5
    )
    assert from_text("Updated 3 March 2022. The council met.", TODAY) == date(2022, 3, 3)
    assert from_text("The vote is set for Dec. 3, 2030.", TODAY) is None
    assert from_text("x " * 400 + "January 5, 2023", TODAY) is None  # too far down to be a dateline


def test_the_input_wins_and_is_normalised() -> None:
    doc = Document(id="a", title="t", text="Published Jan. 5, 2023.", url="https://e.org/2022/02/02/a",
                   published="2021-07-04T10:00:00Z")  # fmt: skip
    assert with_published(doc, TODAY).published == "2021-07-04"
    assert (
        with_published(Document(id="b", title="t", text="Jan. 5, 2023 — text"), TODAY).published
        == "2023-01-05"
    )
    assert parse_date("2024-06-28") == date(2024, 6, 28) and parse_date("soon") is None
