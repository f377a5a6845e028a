"""Loading articles from files and folders, and the errors for bad input (real files in tmp_path)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from index.documents import RawDocument
from index.loaders import LoadError, load_documents, load_path

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def write_jsonl(path: Path, *records: object) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def test_folder_of_mixed_files(tmp_path: Path) -> None:
    write(tmp_path / "b_story.md", "# Sea Wall Approved\n\nThe council voted 7-2.\n")
    write(tmp_path / "a_story.txt", "Tide Tables Change\n\nNew tables were published.\n")
    write(tmp_path / "c_story.html", "<h1>Port Reopens</h1><p>The port reopened.</p>")
    write(tmp_path / "d_story.htm", "<title>Ferry Late</title><p>The ferry was late.</p>")
    records = [{"id": "e1", "title": "One", "text": "First."}, {"id": "e2", "text": "Two."}]
    write_jsonl(tmp_path / "e_feed.jsonl", *records)
    write(tmp_path / "notes.csv", "a,b\n")
    write(tmp_path / ".hidden.txt", "Hidden.")
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub" / "nested.txt", "Nested.")

    raws = load_path(tmp_path)
    assert [(raw.id, raw.format) for raw in raws] == [
        ("a_story", "text"),
        ("b_story", "markdown"),
        ("c_story", "html"),
        ("d_story", "html"),
        ("e1", "json"),
        ("e2", "json"),
    ]
    assert raws[0].text == "Tide Tables Change\n\nNew tables were published.\n"

    documents = load_documents(tmp_path)
    assert [(d.id, d.title, d.text) for d in documents] == [
        ("a_story", "Tide Tables Change", "New tables were published."),
        ("b_story", "Sea Wall Approved", "The council voted 7-2."),
        ("c_story", "Port Reopens", "The port reopened."),
        ("d_story", "Ferry Late", "The ferry was late."),
        ("e1", "One", "First."),
        ("e2", "Two", "Two."),  # no title given: the start of the text stands in
    ]


def test_jsonl_optional_fields(tmp_path: Path) -> None:
    full = {
        "id": "full",
        "title": "Sea Wall Approved",
        "text": "The council voted 7-2.",
        "url": "https://example.com/wall",
        "published": "2024-01-15",
        "source": "Harbour Times",
        "author": "Jane Roe",
        "extra": [1, 2],
    }
    path = write_jsonl(tmp_path / "feed.jsonl", full, {"id": "bare", "text": "Only text.", "url": None})
    assert load_path(path) == [
        RawDocument(
            id="full",
            text="The council voted 7-2.",
            title="Sea Wall Approved",
            author="Jane Roe",
            url="https://example.com/wall",
            published="2024-01-15",
            source="Harbour Times",
            format="json",
        ),
        RawDocument(id="bare", text="Only text.", format="json"),
    ]
    first = load_documents(path)[0]
    assert (first.title, first.author, first.url, first.published, first.source) == (
        "Sea Wall Approved",
        "Jane Roe",
        "https://example.com/wall",
        "2024-01-15",
        "Harbour Times",
    )


def test_blank_lines_in_jsonl_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_text('\n{"id": "a", "text": "A."}\n\n{"id": "b", "text": "B."}\n', encoding="utf-8")
    assert [raw.id for raw in load_path(path)] == ["a", "b"]


def test_seed_folder_loads_and_cleans() -> None:
    documents = load_documents(SEEDS)
    assert [d.id[:3] for d in documents] == ["000", "001", "003", "004"]
    assert all(d.title and d.text for d in documents)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "a", "text": "A."', r"feed\.jsonl:2: invalid JSON"),
        ('["a", "b"]', r"feed\.jsonl:2: expected a JSON object, got list"),
        ('{"text": "No id."}', r"feed\.jsonl:2: missing or empty 'id'"),
        ('{"id": "b"}', r"feed\.jsonl:2: missing or empty 'text'"),
        ('{"id": "b", "text": "  "}', r"feed\.jsonl:2: missing or empty 'text'"),
        ('{"id": 7, "text": "B."}', r"feed\.jsonl:2: missing or empty 'id'"),
        ('{"id": "b", "text": "B.", "published": 2024}', r"feed\.jsonl:2: 'published' must be a string"),
        ('{"id": "a", "text": "Again."}', r"feed\.jsonl:2: duplicate document id 'a' \(first in .*jsonl:1\)"),
    ],
)
def test_jsonl_errors_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_text('{"id": "a", "text": "A."}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(LoadError, match=message):
        load_path(path)


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    write(tmp_path / "story.md", "The council voted.")
    write(tmp_path / "story.txt", "The council voted again.")
    with pytest.raises(LoadError, match=r"story\.txt: duplicate document id 'story' \(first in .*\.md\)"):
        load_path(tmp_path)


def test_unsupported_single_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text("a,b\n", encoding="utf-8")
    with pytest.raises(LoadError, match=r"notes\.csv: unsupported file type '\.csv'; supported: .*\.jsonl"):
        load_path(path)


def test_non_utf8_bytes(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes("First line.\nCaf\u00e9 society.\n".encode("latin-1"))
    with pytest.raises(LoadError, match=r"latin1\.txt:2: not valid UTF-8 \(byte 0xe9"):
        load_path(path)


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeffThe council voted.".encode())
    assert load_path(path)[0].text == "The council voted."


def test_missing_path_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match=r"nowhere: no such file or folder"):
        load_path(tmp_path / "nowhere")
    write(tmp_path / "empty.txt", " \n\n")
    with pytest.raises(LoadError, match=r"empty\.txt: file is empty"):
        load_path(tmp_path / "empty.txt")


def test_document_with_nothing_left_after_cleaning(tmp_path: Path) -> None:
    write(tmp_path / "chrome.txt", "Follow us on social\n\nNewsletter\n")
    with pytest.raises(LoadError, match=r"'chrome' has no article text left after cleaning"):
        load_documents(tmp_path)


def test_load_error_is_a_value_error() -> None:
    assert issubclass(LoadError, ValueError)


ARTICLE = (
    "<html><head>{meta}<title>Straßenfest in Köln</title></head><body><article><h1>Straßenfest in Köln</h1>"
    "<p>Über 3.000 Besucher kamen am Samstag zum Straßenfest in der Kölner Südstadt, sagten die "
    "Veranstalter.</p><p>Die Stände mit Kölsch und Reibekuchen waren schon am frühen Nachmittag "
    "ausverkauft, berichteten Händler.</p>"
    "<p>Im nächsten Jahr soll das Fest zwei Tage dauern, kündigte die Bezirksvertretung an.</p>"
    "</article></body></html>"
)


@pytest.mark.parametrize(
    ("meta", "encoding"),
    [
        ('<meta charset="iso-8859-1">', "latin-1"),  # declared in the page
        ('<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">', "cp1252"),
        ("", "cp1252"),  # declared nowhere: UTF-8 fails, the encoding is detected
        ('<meta charset="utf-8">', "utf-16"),  # a BOM wins over a wrong declaration
        ('<meta charset="utf-8">', "utf-8"),
    ],
)
def test_html_in_any_encoding(tmp_path: Path, meta: str, encoding: str) -> None:
    path = tmp_path / "fest.html"
    path.write_bytes(ARTICLE.format(meta=meta).encode(encoding))
    (document,) = load_documents(path)
    assert document.title == "Straßenfest in Köln"
    assert document.text.startswith(
        "Über 3.000 Besucher kamen am Samstag zum Straßenfest in der Kölner Südstadt"
    )


def test_html_in_utf8_with_a_stray_latin1_byte(tmp_path: Path) -> None:
    page = ARTICLE.format(meta='<meta charset="utf-8">').encode().replace(b"Samstag", b"Sams\xe9tag")
    path = tmp_path / "fest.html"
    path.write_bytes(page)
    (document,) = load_documents(path)
    assert "Über 3.000 Besucher kamen am Sams\ufffdtag" in document.text  # one character lost, not the page


def test_html_metadata_reaches_the_document(tmp_path: Path) -> None:
    (document,) = load_documents(SEEDS.parent / "tests" / "index" / "pages" / "harbour-wall.html")
    assert (document.id, document.title, document.author, document.published) == (
        "harbour-wall",
        "Harbour council approves new sea wall",
        "Jane Roe",
        "2024-03-05",
    )
    assert (document.url, document.source) == ("https://harbour.example/news/sea-wall", "Harbour Times")
    assert "Residents divided" in document.text.split("\n\n")  # a subheading of the story stays
    for chrome in ("Home", "Most read", "Get the Harbour Times app", "Photo: Alex Poe", "©", "By Jane Roe"):
        assert chrome not in document.text


def test_a_page_without_article_text_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "login.html"
    path.write_text("<html><body><form><input name='user'><button>Sign in</button></form></body></html>")
    with pytest.raises(LoadError, match=r"login\.html: document 'login' has no article text left") as caught:
        load_documents(path)
    assert caught.value.code == "no_text"


def test_recursive_folders(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    write(tmp_path / "a" / "b" / "deep.txt", "Deep story.")
    write(tmp_path / "top.txt", "Top story.")
    assert [raw.id for raw in load_path(tmp_path)] == ["top"]
    assert [raw.id for raw in load_path(tmp_path, recursive=True)] == ["deep", "top"]
