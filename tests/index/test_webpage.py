"""The HTML layer under the cleaner: decoding bytes, and titles without the site's name."""

from __future__ import annotations

import pytest

from index.webpage import decode_html, strip_site_name

PAGE = "<html><head>{meta}</head><body><p>Caf\u00e9 cr\u00e8me, na\u00efve \u2014 \u20ac5.</p></body></html>"


def test_the_server_declared_charset_wins_over_the_page() -> None:
    data = PAGE.format(meta='<meta charset="utf-8">').encode("cp1252")
    assert "Café crème, naïve — €5." in decode_html(data, declared="windows-1252")


def test_a_declaration_the_bytes_contradict_is_not_trusted() -> None:
    data = PAGE.format(meta='<meta charset="iso-8859-1">').encode("utf-8")  # declared latin-1, is UTF-8
    assert "Café crème, naïve — €5." in decode_html(data)  # not "CafÃ© crÃ¨me"
    assert "Café crème, naïve — €5." in decode_html(data, declared="iso-8859-1")


def test_undeclared_bytes_are_detected() -> None:
    german = (
        "<html><body><p>" + "Die Straßenbahn fährt über die Brücke nach Köln. " * 20 + "</p></body></html>"
    )
    assert "Straßenbahn fährt über die Brücke" in decode_html(german.encode("cp1252"))


@pytest.mark.parametrize(
    ("title", "sites", "expected"),
    [
        (
            "Berlin confronts its colonial past | DW | 19.01.2020",
            ["DW.COM", "https://www.dw.com/en/a"],
            "Berlin confronts its colonial past",
        ),
        ("Ultium Cells adds capacity - Battery-News.de", ["Battery-News.de"], "Ultium Cells adds capacity"),
        ("Sea wall approved – Harbour Times", ["Harbour Times"], "Sea wall approved"),
        (
            "Dortmund - Gladbach live: the match report",
            ["Sky Sport", "sky.de"],
            "Dortmund - Gladbach live: the match report",
        ),
        ("Harbour Times", ["Harbour Times"], "Harbour Times"),  # only the site's name: kept
        ("Part 1 - Main", ["mainenews.com"], "Part 1 - Main"),  # a short word inside a host is not the site
        (None, ["x.com"], None),
    ],
)
def test_titles_lose_the_site_name(title: str | None, sites: list[str | None], expected: str | None) -> None:
    assert strip_site_name(title, sites) == expected
