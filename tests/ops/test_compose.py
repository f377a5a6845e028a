"""docker-compose.yml, the Dockerfile and .env.example, checked structurally (no Docker engine here):
the services and how they start, their health checks, the Chroma volume, and that every VERITY_*
variable they set or document is a real setting."""

from __future__ import annotations

import re
from importlib.metadata import version
from typing import Any

import pytest
import yaml
from ops_topology import REPO
from pydantic import BaseModel

from service.config import Settings

COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
ENV_EXAMPLE = REPO / ".env.example"
DOCKERIGNORE = REPO / ".dockerignore"


def is_setting(variable: str) -> bool:
    """`VERITY_CHROMA_URL` -> Settings.chroma_url; `VERITY_ANSWER__MIN_SENTENCE_SCORE` -> a nested field."""
    assert variable.startswith("VERITY_"), variable
    model: type[BaseModel] = Settings
    *sections, name = variable.removeprefix("VERITY_").lower().split("__")
    for section in sections:
        field = model.model_fields.get(section)
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return False
        model = annotation
    return name in model.model_fields


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def healthcheck_command(service: dict[str, Any]) -> str:
    check = service["healthcheck"]
    test = check["test"]
    assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL"), test
    for key in ("interval", "timeout", "retries"):
        assert key in check, f"healthcheck without {key}"
    return " ".join(str(part) for part in test[1:])


def test_services_and_how_they_start(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"api", "chroma", "slack"}

    chroma = services["chroma"]
    image, tag = chroma["image"].split(":")
    assert image == "chromadb/chroma" and tag == version("chromadb"), "pin the server to the client version"
    assert "build" not in chroma

    api = services["api"]
    assert api["build"] in (".", {"context": "."}) and DOCKERFILE.is_file()
    assert api["image"] == "verity:latest"
    assert api["depends_on"]["chroma"]["condition"] == "service_healthy"
    assert any(str(port).endswith(":8000") for port in api["ports"]), api["ports"]
    assert str(api["environment"]["VERITY_PORT"]) == "8000" and api["environment"]["VERITY_HOST"] == "0.0.0.0"

    slack = services["slack"]
    assert slack["image"] == api["image"] and slack["build"] == api["build"], "the api's image"
    assert slack["command"] in (["verity", "slack"], "verity slack")
    assert slack["profiles"] == ["slack"], "optional: only with --profile slack"
    assert slack["depends_on"]["chroma"]["condition"] == "service_healthy"
    assert slack["depends_on"]["api"]["condition"] == "service_healthy"
    assert "ports" not in slack, "Socket Mode needs no inbound port"
    for name in ("api", "chroma", "slack"):
        assert services[name]["restart"] == "unless-stopped"


def test_api_and_worker_use_the_chroma_server(compose: dict[str, Any]) -> None:
    for name in ("api", "slack"):
        env = compose["services"][name]["environment"]
        assert env["VERITY_CHROMA_URL"] == "http://chroma:8000", "the chroma service, its port in the network"
        assert env["VERITY_CORPUS_DIR"] == "/app/seeds"
    assert "VERITY_SLACK_APP_TOKEN" in compose["services"]["slack"]["environment"]
    assert "VERITY_SLACK_BOT_TOKEN" in compose["services"]["slack"]["environment"]


def test_chroma_keeps_its_data_in_a_named_volume(compose: dict[str, Any]) -> None:
    mounts = [str(v).split(":") for v in compose["services"]["chroma"]["volumes"]]
    assert ["chroma-data", "/data"] in mounts, mounts  # /data: the image's persist path
    assert "chroma-data" in compose["volumes"]
    assert "volumes" not in compose["services"]["api"], "the api is stateless: all state is in Chroma"


def test_healthchecks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    chroma = healthcheck_command(services["chroma"])
    assert "/api/v2/heartbeat" in chroma and "8000" in chroma
    assert not re.search(r"\b(curl|wget|python3?)\b", chroma), "the chroma image has none of these; use bash"
    assert services["chroma"]["healthcheck"]["test"][1] == "/bin/bash"

    api = healthcheck_command(services["api"])
    assert "python" in api and "http://127.0.0.1:8000/healthz" in api
    assert "curl" not in api, "python:3.11-slim has no curl"
    assert services["api"]["healthcheck"]["start_period"], "model loading and first indexing take a while"

    slack = healthcheck_command(services["slack"])
    assert "/api/v2/heartbeat" in slack and "/proc/1/cmdline" in slack


def test_every_verity_variable_is_a_setting(compose: dict[str, Any]) -> None:
    variables: set[str] = set()
    for service in compose["services"].values():
        variables |= {k for k in service.get("environment", {}) if k.startswith("VERITY_")}
    documented = set(re.findall(r"^#?\s*(VERITY_[A-Z0-9_]+)=", ENV_EXAMPLE.read_text(), re.MULTILINE))
    interpolated = set(re.findall(r"\$\{([A-Z0-9_]+)", COMPOSE.read_text()))
    assert variables and documented
    named = {v for v in variables | documented | interpolated if v.startswith("VERITY_")}
    unknown = sorted(v for v in named if not is_setting(v))
    assert not unknown, f"not fields of Settings: {unknown}"
    assert is_setting("VERITY_ANSWER__MIN_SENTENCE_SCORE") and not is_setting("VERITY_NO_SUCH_THING")
    # what compose reads from .env is documented there
    documented_all = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", ENV_EXAMPLE.read_text(), re.MULTILINE))
    assert interpolated <= documented_all, sorted(interpolated - documented_all)


def test_dockerfile() -> None:
    text = DOCKERFILE.read_text()
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert lines[0] == "FROM python:3.11-slim"
    assert re.search(r"pip install torch==2\.13\.0 --index-url", text), "pinned CPU torch, before the project"
    assert text.index("torch==2.13.0") < text.index('pip install -e ".[llm]"')
    for folder in ("index", "service", "prompts", "models", "seeds"):
        assert re.search(rf"^COPY {folder} \./{folder}$", text, re.MULTILINE), folder
    assert re.search(r"^HEALTHCHECK .*\n?.*/healthz", text, re.MULTILINE)
    assert lines[-1] == 'CMD ["verity", "serve", "--host", "0.0.0.0"]'
    assert "EXPOSE 8000" in lines and "USER verity" in lines
    ignored = DOCKERIGNORE.read_text().split()
    for path in (".venv", ".git", "data", ".env", "tests"):
        assert path in ignored, f".dockerignore must exclude {path}"
