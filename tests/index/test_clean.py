"""Cleaning the real seed pages, plus invented pages that show the rules are shapes, not string lists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from index.clean import clean_document
from index.documents import Document, RawDocument
from index.webpage import ExtractionError

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def seed(prefix: str) -> Document:
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    return clean_document(RawDocument(id=path.stem, text=path.read_text(encoding="utf-8")))


def raw_paragraphs(prefix: str) -> list[str]:
    """The seed's paragraphs with the only normalisation the cleaner may apply (spaces)."""
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    blocks = re.split(r"\n\s*\n", path.read_text(encoding="utf-8"))
    return [re.sub(r"\s+", " ", block).strip() for block in blocks if block.strip()]


def paragraphs(document: Document) -> list[str]:
    return document.text.split("\n\n")


# -- 000: a clean page with a headline --------------------------------------------------------------


def test_000_headline_is_title_and_body_is_whole() -> None:
    document = seed("000")
    raw = raw_paragraphs("000")
    assert document.title == "Trump authorized option to kill Soleimani if Iran killed Americans 7 months ago"
    assert paragraphs(document) == raw[1:]
    assert document.text.startswith("Previously Bolton and Pompeo had urged Trump")
    assert document.author is None


# -- 001: promos and a photo caption inside the story; no headline -----------------------------------


def test_001_promos_and_caption_are_gone_and_story_around_them_stays() -> None:
    text = seed("001").text
    for chrome in (
        "Obtain the NBC Information application",
        "Get full protection of the Iran crisis",
        "Image: Donald Trump and John Bolton",
        "Getty Pictures file",
        "Jabin Botsford",
        "listens as President Donald Trump fulfills with Netherlands",
    ):
        assert chrome not in text
    for sentence in (
        "U.S. intelligence officials have carefully tracked Soleimani’s movements for decades.",
        "The concept of killing Soleimani came up in conversations in 2017",
        "Bolton left the White House in September — he stated he resigned",
        "The administration of President George W. Bush designated the Quds Pressure",
        "The steps underscored the growing stress amongst the United States and Iran",
        "Since Trump withdrew the United States from the Iran nuclear deal in 2018",
    ):
        assert sentence in text


def test_001_keeps_every_story_paragraph_verbatim_and_in_order() -> None:
    chrome = ("Obtain the NBC", "Image: Donald Trump", "Get full protection")
    expected = [p for p in raw_paragraphs("001") if not p.startswith(chrome)]
    assert paragraphs(seed("001")) == expected


def test_001_first_line_is_a_sentence_so_title_falls_back() -> None:
    document = seed("001")
    assert document.text.startswith("WASHINGTON — President Donald Trump authorized the killing")
    assert document.title.startswith("President Donald Trump authorized the killing of Iranian")
    assert len(document.title) <= 90


# -- 003: chrome before the story, teasers of other articles after it ---------------------------------


def test_003_title_and_leading_chrome() -> None:
    document = seed("003")
    assert document.title == "Trump Administration knew Soleimani killing risked war with Iran"
    assert document.title not in document.text
    assert "Follow us on social" not in document.text
    assert "Shutterstock" not in document.text
    assert "Middle East" not in paragraphs(document)
    assert "in the Middle East and that the 2002 Iraq War" in document.text  # the phrase in a sentence stays
    # The standfirst is article content and stays, as the first paragraph.
    assert paragraphs(document)[0] == (
        "Heavily redacted classified DOJ memo shows the legal contortions used to justify the 2020 "
        "assassination."
    )


def test_003_story_ends_before_the_teasers() -> None:
    text = seed("003").text
    assert text.endswith("“I’m sure we could think of something,” according to Lee.")
    for teaser in (
        "funeral program",
        "Top image credit",
        "Trade review process",
        "North America",
        "USMCA",
        "Mexico",
        "Colombia",
        "decertify",
        "Latin America",
        "Venezuelan",
        "9/11",
        "Global Crises",
        "keep reading",
        "Show less",
        "LATEST",
        "QIOSK",
        "Newsletter",
        "Subscribe",
        "Official White House Photo",
    ):
        assert teaser not in text


def test_003_keeps_every_story_paragraph() -> None:
    raw = raw_paragraphs("003")
    end = next(n for n, p in enumerate(raw) if p.endswith("according to Lee."))
    expected = [p for p in raw[: end + 1] if p not in ("Follow us on social", "Middle East")]
    expected = [p for p in expected if not p.startswith(("Shutterstock", "Trump Administration knew"))]
    assert paragraphs(seed("003")) == expected


# -- 004: byline and author box at the end; NBSPs -----------------------------------------------------


def test_004_author_and_author_box() -> None:
    document = seed("004")
    assert document.title == "President Trump Sets Tripwire For Attack on Iran"
    assert document.author == "Dave DeCamp"
    for chrome in ("Author:", "Dave DeCamp", "follow him on Twitter", "@decampdave"):
        assert chrome not in document.text
    assert document.text.endswith(
        "The goal is to make it difficult for a Biden administration to rejoin the 2015 nuclear deal."
    )


def test_004_nbsp_normalised_and_standfirst_kept() -> None:
    document = seed("004")
    assert "\xa0" not in document.text
    assert "A report from The New York Times that said President Trump" in document.text
    assert paragraphs(document)[0].startswith("A source told The Washington Post if an American is killed")
    assert len(paragraphs(document)) == len(raw_paragraphs("004")) - 3  # title, byline, author box


@pytest.mark.parametrize("prefix", ["000", "001", "003", "004"])
def test_seed_output_shape(prefix: str) -> None:
    document = seed(prefix)
    assert document.id.startswith(prefix)
    assert document.title
    assert "\n\n\n" not in document.text
    assert all(p == p.strip() and "  " not in p for p in paragraphs(document))


# -- invented pages: the same rules on strings that appear in no seed ---------------------------------

INVENTED = """\
Share on Facebook

IMG_20240114_0931.jpg

Harbour Council Approves New Sea Wall After Record Floods

By Jane Roe

Local News

The city council voted 7-2 on Tuesday to build a new sea wall along the northern harbour, ending a debate \
that began after last winter’s floods.

Image: The flooded harbour road
Residents wade through water on the harbour road on Jan. 14.Alex Poe / Harbour Times/Getty Images file

Engineers told the council the wall would cost about $40 million and take three years to finish.

Subscribe to our newsletter for the best local stories every morning.

Download the Harbour Times app for flood alerts

Get complete coverage of the harbour vote

A council worker inspects the old wall on Monday. REUTERS/Sam Doe

“We cannot wait for the next storm,” said council member Ana Ruiz.

Jane Roe is a staff writer covering city hall for the Harbour Times.

Crowds on the beach during the summer festival
Sports
Photo credit: Sam Doe
Harbour Hawks win the regional final in overtime

The Harbour Hawks won the regional final 3-2 in overtime on Saturday night.

Read more
Show less
Weather
Forecast: more rain expected this weekend across the coast.
"""


def test_invented_page_is_cleaned_by_shape() -> None:
    document = clean_document(RawDocument(id="harbour", text=INVENTED))
    assert document.title == "Harbour Council Approves New Sea Wall After Record Floods"
    assert document.author == "Jane Roe"
    assert paragraphs(document) == [
        "The city council voted 7-2 on Tuesday to build a new sea wall along the northern harbour, ending a "
        "debate that began after last winter’s floods.",
        "Engineers told the council the wall would cost about $40 million and take three years to finish.",
        "“We cannot wait for the next storm,” said council member Ana Ruiz.",
    ]


def test_keep_reading_without_a_chrome_cluster_cuts_only_at_the_marker() -> None:
    text = (
        "Tide Tables Change\n\nThe harbour master published new tide tables on Friday.\n\n"
        "Boats must now leave two hours earlier.\n\nkeep reading\n\nWeather\n\nMore rain is expected."
    )
    document = clean_document(RawDocument(id="tides", text=text))
    assert document.title == "Tide Tables Change"
    assert document.text == (
        "The harbour master published new tide tables on Friday.\n\nBoats must now leave two hours earlier."
    )


def test_given_title_wins_and_its_copy_in_the_text_is_removed() -> None:
    text = "Sea wall approved\n\nThe council approved the sea wall on Tuesday."
    document = clean_document(RawDocument(id="x", text=text, title="Sea Wall Approved", author="J. Roe"))
    assert document.title == "Sea Wall Approved"
    assert document.author == "J. Roe"
    assert document.text == "The council approved the sea wall on Tuesday."


def test_hard_wrapped_paragraph_is_joined_and_metadata_passes_through() -> None:
    text = (
        "The council voted on Tuesday to build a new sea wall along the northern\n"
        "harbour, ending a debate that began after last winter's floods.\n"
    )
    raw = RawDocument(id="w", text=text, url="https://x.test/w", published="2024-01-15", source="Harbour")
    document = clean_document(raw)
    assert document.text == (
        "The council voted on Tuesday to build a new sea wall along the northern harbour, ending a debate "
        "that began after last winter's floods."
    )
    assert (document.url, document.published, document.source) == (raw.url, raw.published, raw.source)
    assert document.title.startswith("The council voted on Tuesday")


def test_empty_text_keeps_the_id_as_title() -> None:
    assert clean_document(RawDocument(id="empty", text="Follow us\n\nNewsletter")) == Document(
        id="empty", title="empty", text=""
    )


# A news page: the article among site chrome. trafilatura (index/webpage.py) finds the article and its
# metadata; Verity's rules then drop the byline line and the newsletter promo it keeps.
HTML = """<!doctype html>
<html><head><title>Sea wall approved | Harbour Times</title><style>p { color: red }</style>
<meta property="article:published_time" content="2024-03-05T09:30:00Z">
<meta property="og:site_name" content="Harbour Times">
<link rel="canonical" href="https://harbour.example/news/sea-wall">
<script>var promo = "Subscribe now";</script></head>
<body>
<nav><a href="/">Home</a> <a href="/local">Local News</a></nav>
<header><h1>Harbour Council Approves New Sea Wall</h1></header>
<article>
  <p>By Jane Roe</p>
  <p>The city council voted 7-2 on Tuesday to build a new sea wall&nbsp;along the
     northern harbour.</p>
  <figure><img src="wall.jpg" alt="The wall"><figcaption>The old wall. Photo: Alex Poe</figcaption></figure>
  <p>Engineers said the wall would cost about <b>$40&nbsp;million</b>
     and take <a href="/t">three years</a>.</p>
  <p>Residents of the low streets behind the harbour, flooded twice last winter, had asked the council
     for a wall since 2019, and several of them spoke before the vote.</p>
  <aside><p>Most read: Hawks win final</p></aside>
  <p>Sign up for our morning newsletter</p>
</article>
<footer><p>© 2024 Harbour Times. All rights reserved.</p></footer>
</body></html>
"""


def test_html_page() -> None:
    document = clean_document(RawDocument(id="h", text=HTML, format="html"))
    assert document.title == "Harbour Council Approves New Sea Wall"
    assert document.author == "Jane Roe"
    assert document.text == (
        "The city council voted 7-2 on Tuesday to build a new sea wall along the northern harbour.\n\n"
        "Engineers said the wall would cost about $40 million and take three years.\n\n"
        "Residents of the low streets behind the harbour, flooded twice last winter, had asked the council "
        "for a wall since 2019, and several of them spoke before the vote."
    )
    assert (document.published, document.source, document.url) == (
        "2024-03-05",
        "Harbour Times",
        "https://harbour.example/news/sea-wall",
    )


def test_html_metadata_given_by_the_caller_wins() -> None:
    raw = RawDocument(
        id="h", text=HTML, format="html", title="Sea wall: council says yes", published="2024-03-04",
        url="https://feed.example/entry/1", author="J. Roe", source="Feed",
    )  # fmt: skip
    document = clean_document(raw)
    assert (document.title, document.published, document.url, document.author, document.source) == (
        "Sea wall: council says yes",
        "2024-03-04",
        "https://feed.example/entry/1",
        "J. Roe",
        "Feed",
    )
    assert document.text.startswith("The city council voted 7-2")


def test_html_date_is_not_guessed_from_a_copyright_line() -> None:
    page = HTML.replace('<meta property="article:published_time" content="2024-03-05T09:30:00Z">', "")
    assert clean_document(RawDocument(id="h", text=page, format="html")).published is None


def test_html_subheadings_inside_the_story_are_kept() -> None:
    page = HTML.replace(
        "<aside>", "<h2>What happens next</h2><p>Work starts in May, the council said.</p><aside>"
    )
    text = clean_document(RawDocument(id="h", text=page, format="html")).text
    assert "\n\nWhat happens next\n\nWork starts in May, the council said." in text


def test_html_links_after_the_story_are_cut() -> None:
    related = (
        "<p>Read also:</p><p><a href='/a'>Hawks win the final in extra time at home</a></p>"
        "<p><a href='/b'>Bakery on the quay closes its doors after eighty years</a></p>"
        "<h3>More from Harbour Times</h3>"
    )
    page = HTML.replace("<aside>", related + "<aside>")
    text = clean_document(RawDocument(id="h", text=page, format="html")).text
    assert text.endswith("several of them spoke before the vote.")


def test_html_without_article_text_is_an_extraction_error() -> None:
    page = "<html><head><title>Login</title></head><body><form><input name='user'></form></body></html>"
    with pytest.raises(ExtractionError, match="no article text"):
        clean_document(RawDocument(id="h", text=page, format="html"))


def test_html_without_h1_uses_the_page_title() -> None:
    page = "<html><head><title>Sea wall approved | Harbour Times</title></head><p>It passed 7-2.</p></html>"
    document = clean_document(RawDocument(id="h", text=page, format="html"))
    assert (document.title, document.text) == ("Sea wall approved", "It passed 7-2.")


MARKDOWN = """# Harbour Council Approves New *Sea Wall*

*By Jane Roe*

The city council voted **7-2** on Tuesday to build a new
sea wall along the [northern harbour](https://example.com/harbour).

![The old wall](wall.jpg)

Engineers said the wall would cost about _$40 million_ and take `three` years.

- Construction starts in May.
- Roads close for [two weeks][closures].

[closures]: https://example.com/closures

Follow us on Mastodon
"""


def test_markdown_page() -> None:
    document = clean_document(RawDocument(id="m", text=MARKDOWN, format="markdown"))
    assert document.title == "Harbour Council Approves New Sea Wall"
    assert document.author == "Jane Roe"
    assert paragraphs(document) == [
        "The city council voted 7-2 on Tuesday to build a new sea wall along the northern harbour.",
        "Engineers said the wall would cost about $40 million and take three years.",
        "Construction starts in May.",
        "Roads close for two weeks.",
    ]


def test_sentences_that_start_like_chrome_are_kept() -> None:
    sentences = [
        "By Tuesday, the council had voted.",
        "Read more than 400 pages of the memo, the lawyer said, and you will see the gaps.",
        "Newsletters from the campaign urged supporters to attend the meeting on Friday.",
        "Get the application filed by Friday, the lawyer told him.",
        "Follow the money, investigators said, and the trail leads to the harbour fund.",
        "“No.”",
    ]
    document = clean_document(RawDocument(id="s", text="\n\n".join(sentences)))
    assert paragraphs(document) == sentences
    assert document.author is None


def test_percent_escaped_punctuation_inside_words_is_decoded_but_urls_are_kept() -> None:
    raw = RawDocument(
        id="pct",
        title="North Korea%27s launch",
        text="North Korea%27s missile flew 600 miles, officials said.\n\n"
        "They don%27t expect another soon; the report is at https://example.org/a%27b today.\n\n"
        "Turnout was 100%25 in one district, officials said.",
    )
    doc = clean_document(raw)
    assert doc.title == "North Korea's launch"
    assert "North Korea's missile flew" in doc.text and "They don't expect" in doc.text
    assert "https://example.org/a%27b" in doc.text  # a URL is left as it is
    assert "100%25" in doc.text  # after a digit it is not inside a word
