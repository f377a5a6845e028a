"""Bad input never gets a 500: hypothesis generates requests for every operation of the app's own
OpenAPI schema (bodies that follow the schema, bodies with one field replaced by any JSON value, any
JSON at all, raw bytes under assorted content types, odd path parameters), and each answer must be a
4xx/2xx with the JSON error shape. Then the explicit cases: non-UTF-8 bytes, a 10 MB body, a wrong
content type, deeply nested JSON, control characters and a 2,001-character question."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pydantic import SecretStr

from service.answering.pipeline import Verity
from service.config import Settings
from service.http.app import create_app

KEY = "bad-input-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
JSON = {"content-type": "application/json", **AUTH}
Schema = dict[str, Any]


@pytest.fixture(scope="module")
def app_client(
    settings: Settings, verity: Verity, wait_healthy: Callable[[TestClient], Any]
) -> Iterator[TestClient]:
    """Writes enabled (so their bodies are validated too), no rate limit (the fuzzer sends many)."""
    fuzz_settings = settings.model_copy(update={"api_keys": [SecretStr(KEY)], "rate_limit_per_minute": 0})
    with TestClient(create_app(fuzz_settings, verity=verity), raise_server_exceptions=False) as client:
        wait_healthy(client)
        yield client


@pytest.fixture(scope="module", autouse=True)
def _seed_index_unchanged(verity: Verity) -> Iterator[None]:
    """Articles the fuzzer manages to post are removed again; the seed articles must all survive."""
    before = {d.document.id for d in verity.documents()}
    yield
    after = {d.document.id for d in verity.documents()}
    for extra in after - before:
        verity.store.delete_document(extra)
    verity.retriever.refresh(force=True)
    assert before <= after, f"the fuzzer deleted seed articles: {before - after}"


def assert_clean(response: Any, *, allow_success: bool = True) -> None:
    """Not a 500, and every error is the API's JSON error with a message."""
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/json"), response.text[:200]
        error = response.json()["error"]
        assert isinstance(error["code"], str) and isinstance(error["message"], str) and error["message"]
    else:
        assert allow_success, response.text[:200]


# -- strategies from the OpenAPI schema ----------------------------------------------------------------------
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


PRINTABLE = st.characters(exclude_categories=("Cc", "Cs"))
WORDS = [
    "Soleimani",
    "Trump",
    "Bolton",
    "Baghdad",
    "drone",
    "killed",
    "who",
    "when",
    "was",
    "the",
    "in",
    "é",
    "2020",
]
# sentence-like strings, so that many generated requests pass validation and reach the pipeline
sentences = st.lists(
    st.sampled_from(WORDS) | st.text(PRINTABLE, min_size=1, max_size=8), min_size=1, max_size=12
).map(lambda words: " ".join(words).capitalize() + ".")


def from_schema(schema: Schema, components: dict[str, Schema], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values that follow `schema` (the subset of JSON Schema FastAPI emits), kept small."""
    if "$ref" in schema:
        return from_schema(components[schema["$ref"].rsplit("/", 1)[-1]], components, depth)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of([from_schema(s, components, depth) for s in schema[key]])
    if "allOf" in schema:
        return from_schema(schema["allOf"][0], components, depth)
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    kind = schema.get("type")
    if kind == "string":
        low, high = schema.get("minLength", 0), schema.get("maxLength", 10_000)
        strings = st.text(min_size=low, max_size=max(low, min(high, 40)))
        printable = st.text(PRINTABLE, min_size=low, max_size=max(low, min(high, 40)))
        return sentences.filter(lambda s: low <= len(s) <= high) | printable | strings
    if kind == "integer":
        return st.integers()
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        items = from_schema(schema.get("items", {}), components, depth + 1) if depth < 3 else json_values
        low = schema.get("minItems", 0)
        return st.lists(items, min_size=low, max_size=max(low, min(schema.get("maxItems", 3), 3)))
    if kind == "object":
        properties = schema.get("properties", {})
        required = set(schema.get("required", []))
        fields = {name: from_schema(s, components, depth + 1) for name, s in properties.items()}
        return st.fixed_dictionaries(
            {k: v for k, v in fields.items() if k in required},
            optional={k: v for k, v in fields.items() if k not in required},
        )
    return json_values


def mutated(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A body that follows the schema except for one field, which holds any JSON value."""

    @st.composite
    def build(draw: st.DrawFn) -> Any:
        body = draw(valid)
        if isinstance(body, dict) and body:
            body[draw(st.sampled_from(sorted(body)))] = draw(json_values)
        return body

    return build()


raw_bodies = st.tuples(
    st.binary(max_size=200),
    st.sampled_from(
        ["application/json", "text/plain", "application/x-www-form-urlencoded", "", "application/xml"]
    ),
)


def _operations() -> list[tuple[str, str, Schema]]:
    schema = create_app(Settings()).openapi()
    return [(method.upper(), path, op) for path, ops in schema["paths"].items() for method, op in ops.items()]


def _components() -> dict[str, Schema]:
    components: dict[str, Schema] = create_app(Settings()).openapi()["components"]["schemas"]
    return components


OPERATIONS = _operations()
COMPONENTS = _components()
FUZZ = hypothesis_settings(
    max_examples=30,
    deadline=None,
    database=None,
    derandomize=True,  # the same examples on every run: CI does not flake on a new random draw
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize(
    ("method", "path", "operation"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS]
)
@FUZZ
@given(data=st.data())
def test_no_operation_answers_500(
    app_client: TestClient, method: str, path: str, operation: Schema, data: st.DataObject
) -> None:
    params = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "path"}
    url = path
    for name in params:
        value = data.draw(
            st.text(max_size=60) | st.sampled_from(["..", ".", "%2F", "a b", "\x00", "é" * 300])
        )
        url = url.replace("{" + name + "}", quote(value, safe=""))
    kwargs: dict[str, Any] = {"headers": dict(AUTH)}
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        valid = from_schema(content["application/json"]["schema"], COMPONENTS)
        kind = data.draw(st.sampled_from(["valid", "valid", "mutated", "any json", "raw"]))
        if kind == "raw":
            body, content_type = data.draw(raw_bodies)
            kwargs["content"] = body
            kwargs["headers"]["content-type"] = content_type
        else:
            body = data.draw({"valid": valid, "mutated": mutated(valid), "any json": json_values}[kind])
            if isinstance(body, dict) and body.get("stream") is True:
                body["stream"] = False  # the streaming paths are slow and covered elsewhere
            kwargs["json"] = body
    response = app_client.request(method, url, **kwargs)
    assert_clean(response)


CHROME = [
    "Follow us on Twitter",
    "Photo: AP",
    "Advertisement",
    "<p>Inline <b>html</b></p>",
    "By Jane Roe",
    "# Heading",
]
article_lines = st.lists(
    sentences | st.text(PRINTABLE, max_size=60) | st.sampled_from(CHROME), min_size=1, max_size=8
)


@FUZZ
@given(
    ids=st.lists(st.from_regex(r"[A-Za-z0-9._-]{1,20}", fullmatch=True), min_size=1, max_size=3, unique=True),
    title=sentences | st.text(PRINTABLE, min_size=1, max_size=30),
    lines=article_lines,
    separator=st.sampled_from(["\n", "\n\n", " ", "\r\n"]),
)
def test_posted_articles_are_indexed_or_refused(
    app_client: TestClient, verity: Verity, ids: list[str], title: str, lines: list[str], separator: str
) -> None:
    """Articles that pass validation go through cleaning and indexing: written, or a clear 422."""
    documents = [{"id": f"fuzz-{i}", "title": title, "text": separator.join(lines)} for i in ids]
    response = app_client.post("/v1/documents", json={"documents": documents}, headers=AUTH)
    assert_clean(response)
    if response.status_code == 200:
        for result in response.json()["documents"]:
            stored = app_client.get(f"/v1/documents/{quote(result['id'], safe='')}").json()
            assert stored["passages"] == result["passages"] > 0
            assert (
                app_client.delete(f"/v1/documents/{quote(result['id'], safe='')}", headers=AUTH).status_code
                == 204
            )


@FUZZ
@given(
    turns=st.lists(sentences | st.text(PRINTABLE, max_size=40), max_size=4),
    question=sentences | st.text(PRINTABLE, min_size=1, max_size=60),
    system=st.none() | st.text(max_size=40),
)
def test_conversations_are_answered_or_refused(
    app_client: TestClient, turns: list[str], question: str, system: str | None
) -> None:
    messages = [{"role": "system", "content": system}] if system is not None else []
    messages += [{"role": ("user", "assistant")[i % 2], "content": t} for i, t in enumerate(turns)]
    messages.append({"role": "user", "content": question})
    assert_clean(app_client.post("/v1/chat/completions", json={"messages": messages}, headers=AUTH))
    history = [
        {"role": m["role"], "content": m["content"]} for m in messages[1 if system is not None else 0 : -1]
    ]
    assert_clean(app_client.post("/v1/ask", json={"question": question, "history": history}, headers=AUTH))


# -- explicit cases -----------------------------------------------------------------------------------------
POSTS: dict[str, Any] = {
    "/v1/ask": {"question": "Who?"},
    "/v1/verify": {"claim": "Soleimani was killed."},
    "/v1/chat/completions": {"messages": [{"role": "user", "content": "Who?"}]},
    "/v1/documents": {"documents": [{"id": "bad-input-x", "title": "T", "text": "A sentence."}]},
}


def error_of(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code, error
    return str(error["message"])


@pytest.mark.parametrize("path", POSTS)
def test_non_utf8_bytes(app_client: TestClient, path: str) -> None:
    body = json.dumps(POSTS[path]).encode().replace(b"o", b"\xf6", 1)  # Latin-1, not UTF-8
    message = error_of(app_client.post(path, content=body, headers=JSON), 422, "invalid_json")
    assert "UTF-8" in message


@pytest.mark.parametrize("path", POSTS)
def test_ten_megabyte_body(app_client: TestClient, path: str) -> None:
    huge = json.dumps({"question": "x" * 10_000_000}).encode()
    message = error_of(app_client.post(path, content=huge, headers=JSON), 413, "payload_too_large")
    assert "larger than the limit of 1,000,000 bytes" in message


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
@pytest.mark.parametrize("path", POSTS)
def test_wrong_content_type(app_client: TestClient, path: str, content_type: str) -> None:
    body = json.dumps(POSTS[path]).encode()
    response = app_client.post(path, content=body, headers={**AUTH, "content-type": content_type})
    assert "application/json" in error_of(response, 415, "unsupported_media_type")


@pytest.mark.parametrize("path", POSTS)
def test_deeply_nested_json(app_client: TestClient, path: str) -> None:
    deep = b'{"question": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert "nested too deeply" in error_of(
        app_client.post(path, content=deep, headers=JSON), 422, "invalid_json"
    )
    objects = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
    assert "nested too deeply" in error_of(
        app_client.post(path, content=objects, headers=JSON), 422, "invalid_json"
    )
    # nested, but within what the parser takes: the schema says what is wrong
    nested = json.loads("[" * 500 + "]" * 500)
    shallow = {
        "/v1/ask": {"question": nested},
        "/v1/verify": {"claim": nested},
        "/v1/chat/completions": {"messages": [{"role": "user", "content": nested}]},
        "/v1/documents": {"documents": nested},
    }[path]
    error_of(app_client.post(path, json=shallow, headers=AUTH), 422, "invalid_request")


CONTROL = {
    "/v1/ask": {"question": "Who\x00 ordered the strike?"},
    "/v1/verify": {"claim": "Soleimani\x1b was killed."},
    "/v1/chat/completions": {"messages": [{"role": "user", "content": "Who\x07 ordered the strike?"}]},
    "/v1/documents": {"documents": [{"id": "bad\x00id", "title": "T", "text": "A sentence."}]},
}


@pytest.mark.parametrize("path", CONTROL)
def test_control_characters(app_client: TestClient, path: str) -> None:
    message = error_of(app_client.post(path, json=CONTROL[path], headers=AUTH), 422, "invalid_request")
    assert "control characters" in message


LONG = "x" * 2001
TOO_LONG = {
    "/v1/ask": {"question": LONG},
    "/v1/verify": {"claim": LONG},
    "/v1/chat/completions": {"messages": [{"role": "user", "content": LONG}]},
}


@pytest.mark.parametrize("path", TOO_LONG)
def test_a_2001_character_question(app_client: TestClient, path: str) -> None:
    message = error_of(app_client.post(path, json=TOO_LONG[path], headers=AUTH), 422, "invalid_request")
    assert "at most 2000 characters" in message
    if path != "/v1/chat/completions":  # exactly 2,000 is accepted (answered or refused, not an error)
        field = "question" if path == "/v1/ask" else "claim"
        assert app_client.post(path, json={field: "x" * 2000}, headers=AUTH).status_code == 200


def test_empty_and_missing_bodies(app_client: TestClient) -> None:
    for path in POSTS:
        assert "body is required" in error_of(app_client.post(path, headers=AUTH), 422, "invalid_request")
        error_of(app_client.post(path, content=b"", headers=JSON), 422, "invalid_request")
        error_of(app_client.post(path, content=b"null", headers=JSON), 422, "invalid_request")
