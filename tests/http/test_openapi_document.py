"""What /openapi.json says, checked against the settings the app was built with and what it sends.

The schemathesis run (test_openapi_contract.py) finds disagreements by fuzzing; these tests pin the
parts a fuzzer cannot decide: security present exactly where the settings enforce it, 429 only when the
limit is on, the one error envelope everywhere, the headers, the stream media type, the strictness of
requests (undeclared query parameters and bodies), and the README's endpoint table.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from service.config import Settings
from service.http.app import create_app

REPO = Path(__file__).resolve().parents[2]
WRITES = {("post", "/v1/documents"), ("delete", "/v1/documents/{document_id}")}
OPEN = {("get", "/healthz"), ("get", "/metrics")}
LIMITED = {("post", "/v1/ask"), ("post", "/v1/verify"), ("post", "/v1/chat/completions")}


def document(tmp_path: Path, **settings: Any) -> dict[str, Any]:
    """The document of an app built with `settings` (no model is loaded to write it)."""
    built: dict[str, Any] = create_app(Settings(data_dir=tmp_path, **settings)).openapi()
    return built


def operations(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(method, path): op for path, methods in doc["paths"].items() for method, op in methods.items()}


def secured(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {key for key, op in operations(doc).items() if op.get("security")}


def test_security_is_declared_where_the_settings_enforce_it(tmp_path: Path) -> None:
    every = set(operations(document(tmp_path)))
    assert secured(document(tmp_path)) == WRITES  # no keys: writes are refused, and still declared
    assert secured(document(tmp_path, api_keys=[SecretStr("k")])) == WRITES
    assert secured(document(tmp_path, api_keys=[SecretStr("k")], auth_reads=True)) == every - OPEN
    scheme = document(tmp_path)["components"]["securitySchemes"]["api_key"]
    assert scheme == scheme | {"type": "http", "scheme": "bearer"}


def test_each_operation_lists_the_errors_it_can_send(tmp_path: Path) -> None:
    ops = operations(document(tmp_path, api_keys=[SecretStr("k")]))
    for key, op in ops.items():
        codes = set(op["responses"])
        assert "422" in codes, key
        assert ("401" in codes and "403" in codes) is (key in WRITES), key
        assert ("429" in codes) is (key in LIMITED), key
        assert ({"400", "413", "415"} <= codes) is ("requestBody" in op), key
    assert "404" in ops[("get", "/v1/documents/{document_id}")]["responses"]
    assert (
        "503" in ops[("post", "/v1/ask")]["responses"]
        and "503" not in ops[("get", "/v1/models")]["responses"]
    )
    limited = ops[("post", "/v1/ask")]["responses"]["429"]
    assert "Retry-After" in limited["headers"]
    assert "WWW-Authenticate" in ops[("post", "/v1/documents")]["responses"]["401"]["headers"]
    unlimited = operations(document(tmp_path, rate_limit_per_minute=0))
    assert not any("429" in op["responses"] for op in unlimited.values())


def test_one_error_envelope_and_a_request_id_on_every_response(tmp_path: Path) -> None:
    doc = document(tmp_path, api_keys=[SecretStr("k")], auth_reads=True)
    assert "HTTPValidationError" not in json.dumps(doc)
    envelope = doc["components"]["schemas"]["ErrorEnvelope"]
    assert envelope["required"] == ["error"]
    for key, op in operations(doc).items():
        for status, response in op["responses"].items():
            assert response["headers"]["X-Request-ID"] == {"$ref": "#/components/headers/RequestId"}, key
            if status.startswith(("4", "5")) and key != ("get", "/healthz"):
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}, (key, status)


def test_the_streams_are_described(tmp_path: Path) -> None:
    ops = operations(document(tmp_path))
    ask = ops[("post", "/v1/ask")]["responses"]["200"]["content"]["text/event-stream"]["schema"]
    assert ask["properties"]["event"]["enum"] == ["short_answer", "sentence", "done", "error"]
    chat = ops[("post", "/v1/chat/completions")]["responses"]["200"]["content"]["text/event-stream"]["schema"]
    assert chat["properties"]["event"] == {"type": "string", "const": "message"}


def test_what_is_sent_matches_the_envelope(client: TestClient, tmp_path: Path) -> None:
    doc = client.get("/openapi.json").json()
    envelope = {**doc["components"]["schemas"]["ErrorEnvelope"], "$defs": doc["components"]["schemas"]}
    validator = jsonschema_rs.validator_for(
        json.loads(json.dumps(envelope).replace("#/components/schemas/", "#/$defs/"))
    )
    responses = [
        client.post("/v1/ask", json={"question": ""}),
        client.post("/v1/ask", content=b"{", headers={"content-type": "application/json"}),
        client.post("/v1/ask", content=b"question", headers={"content-type": "text/plain"}),
        client.get("/v1/documents/no-such-document"),
        client.delete("/v1/documents/x"),
        client.get("/v1/documents", params={"limit": "3"}),
    ]
    for response in responses:
        assert response.status_code >= 400 and "x-request-id" in response.headers
        assert validator.is_valid(response.json()), response.text


def test_undeclared_query_parameters_and_bodies_are_refused(client: TestClient) -> None:
    response = client.get("/v1/documents", params={"qestion": "typo"})
    assert response.status_code == 422 and "'qestion'" in response.json()["error"]["message"]
    response = client.request("GET", "/v1/documents", json={"question": "Who?"})
    assert response.status_code == 422 and "takes no request body" in response.json()["error"]["message"]
    assert client.get("/v1/documents").status_code == 200


def test_method_not_allowed_names_every_method_of_the_path(client: TestClient) -> None:
    response = client.put("/v1/documents")
    assert response.status_code == 405 and response.headers["allow"] == "GET, POST"
    response = client.patch("/v1/documents/x")
    assert response.status_code == 405 and response.headers["allow"] == "DELETE, GET"


def test_a_chat_request_without_a_user_message_is_invalid_in_the_schema_too(tmp_path: Path) -> None:
    schemas = document(tmp_path)["components"]["schemas"]
    messages = schemas["ChatCompletionRequest"]["properties"]["messages"]
    assert messages["contains"]["properties"]["role"] == {"const": "user"}
    content = schemas["UserMessage"]["properties"]["content"]["anyOf"][0]
    assert content["minLength"] == 1 and content["maxLength"] == 2000 and "pattern" in content


# -- the README's endpoint table and /docs -----------------------------------------------------------
_NOT_IN_THE_DOCUMENT = {("get", "/docs"), ("get", "/openapi.json"), ("get", "/"), ("post", "/slack/events")}


def readme_endpoints() -> set[tuple[str, str]]:
    text = (REPO / "README.md").read_text()
    table = text.split("| endpoint | what |", 1)[1].split("\n\n", 1)[0]
    found = set()
    for line in table.splitlines():
        for method, path in re.findall(r"`(GET|POST|DELETE) ([^`\s]+)", line):
            found.add((method.lower(), path))
    return found


def test_readme_endpoint_table_lists_exactly_the_documented_operations(tmp_path: Path) -> None:
    documented = set(operations(document(tmp_path)))
    listed = readme_endpoints()
    assert listed - _NOT_IN_THE_DOCUMENT == documented
    assert listed >= _NOT_IN_THE_DOCUMENT


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_pages_render_the_document(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200 and "/openapi.json" in response.text
