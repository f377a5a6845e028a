"""The `verity` command line: index a corpus, ask a question, or serve the HTTP API.

Another thin adapter over the one pipeline (`Verity`). Each subcommand is one entry in `COMMANDS`
(its help, its arguments, and the function that runs it), so adding one (e.g. `verity eval FILE`) is
one function pair and one line, with no change to `main()`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from service.config import Settings
from service.errors import BadRequest, VerityError
from service.schemas import AskRequest, AskResponse, lead

if TYPE_CHECKING:  # the pipeline pulls in torch and spaCy: imported only by the commands that need it
    from index.sources import Loaded
    from service.answering.pipeline import Verity

log = logging.getLogger("verity")

# Exit codes: 0 ok (a refusal is a valid answer), 1 runtime failure, 2 bad input or usage.
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


@dataclass(frozen=True)
class Command:
    help: str
    arguments: Callable[[argparse.ArgumentParser, Settings], None]
    run: Callable[[argparse.Namespace, Settings], int]


# -- verity index [PATH|URL ...] [--recursive] [--urls FILE] -------------------------------------------
def _source_arguments(parser: argparse.ArgumentParser, settings: Settings, default: Path | None) -> None:
    """The inputs `verity index` and `verity extract` share (`index/sources.py` reads them)."""
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        default=[default] if default else [],
        help="files (.html/.htm, .txt, .md, .jsonl, .rss/.atom/.xml feeds), folders, or URLs of pages and "
        "feeds" + (f" (default: {default})" if default else ""),
    )
    parser.add_argument("--recursive", "-r", action="store_true", help="read folders' subfolders too")
    parser.add_argument(
        "--urls", type=Path, metavar="FILE", help="also read these pages/feeds, one URL a line"
    )


def _index_arguments(parser: argparse.ArgumentParser, settings: Settings) -> None:
    _source_arguments(parser, settings, settings.corpus_dir)
    parser.epilog = (
        "Stored documents that are not among the inputs are removed; an input that fails this time "
        "keeps its stored version. Each failure is reported and the rest is indexed (exit status 1)."
    )


def _load(args: argparse.Namespace, settings: Settings, command: str) -> Loaded | None:
    """The documents and per-item failures of the inputs; None (reported) when the request is wrong."""
    from index.loaders import LoadError
    from index.sources import load_sources, read_url_list

    try:
        urls = read_url_list(args.urls) if args.urls else []
        # `--urls FILE` alone does not also read the default corpus (the default is a Path, not a str)
        default = [settings.corpus_dir] if args.paths and isinstance(args.paths[0], Path) else None
        paths = [] if urls and args.paths == default else args.paths
        if not paths and not urls:
            raise LoadError("give a PATH, a URL or --urls FILE")
        loaded = load_sources(paths, recursive=args.recursive, urls=urls, fetch=settings.fetch.options())
    except LoadError as exc:
        print(f"verity {command}: {exc}", file=sys.stderr)
        return None
    for failure in loaded.failures:
        print(f"verity {command}: {failure.message} [{failure.code}]", file=sys.stderr)
    return loaded


def _index(args: argparse.Namespace, settings: Settings) -> int:
    loaded = _load(args, settings, "index")  # before loading models: bad input fails fast
    if loaded is None:
        return EXIT_USAGE
    if not loaded.documents and loaded.failures:
        print("verity index: nothing to index: every input failed", file=sys.stderr)
        return EXIT_FAILURE
    if not loaded.prunable:
        print(
            "verity index: an input whose articles are unknown failed (a broken .jsonl or feed, a URL that "
            "could not be fetched): no stored document is removed this time",
            file=sys.stderr,
        )
    verity = _verity(settings)
    summary = verity.index(
        loaded.documents, prune=loaded.prunable, progress=sys.stderr.isatty(), keep=loaded.failed_ids
    )
    print(summary if not loaded.failures else f"{summary}; {len(loaded.failures)} failed")
    return EXIT_FAILURE if loaded.failures else EXIT_OK


# -- verity extract PATH|URL ... [--jsonl] --------------------------------------------------------------
def _extract_arguments(parser: argparse.ArgumentParser, settings: Settings) -> None:
    _source_arguments(parser, settings, None)
    parser.add_argument("--jsonl", action="store_true", help="one JSON object a line (default: a JSON list)")


_EXTRACT_FIELDS = ("id", "title", "author", "published", "url", "source", "text")


def _extract(args: argparse.Namespace, settings: Settings) -> int:
    """Print the documents exactly as `verity index` would store them (no model, no store)."""
    import json

    loaded = _load(args, settings, "extract")
    if loaded is None:
        return EXIT_USAGE
    records = [{key: getattr(doc, key) for key in _EXTRACT_FIELDS} for doc in loaded.documents]
    if args.jsonl:
        for record in records:
            print(json.dumps(record, ensure_ascii=False))
    else:
        print(json.dumps(records, ensure_ascii=False, indent=2))
    return EXIT_FAILURE if loaded.failures else EXIT_OK


# -- verity ask "question" ------------------------------------------------------------------------------
def _ask_arguments(parser: argparse.ArgumentParser, settings: Settings) -> None:
    parser.add_argument("question", help="the question, quoted")
    parser.add_argument("--json", action="store_true", help="print the full response as JSON")
    parser.add_argument("--as-of", help="the day the question is asked (YYYY-MM-DD, default today)")


def _ask(args: argparse.Namespace, settings: Settings) -> int:
    try:  # the API's rules, checked before the models load
        request = AskRequest(question=args.question, as_of=args.as_of)
    except ValidationError as exc:
        print(f"verity ask: {exc.errors()[0]['msg'].removeprefix('Value error, ')}", file=sys.stderr)
        return EXIT_USAGE
    verity = _verity(settings)
    if verity.store.count() == 0:
        print("verity ask: the index is empty; run `verity index` first", file=sys.stderr)
    response = verity.ask(request.question, as_of=request.as_of)
    print(response.model_dump_json(indent=2) if args.json else format_response(response))
    return EXIT_OK


def format_response(response: AskResponse) -> str:
    """The answer (or the refusal), then its numbered sources quoted exactly."""
    lines = []
    if response.refusal is not None:
        lines.append(f"Refused ({response.refusal.reason}): {response.refusal.message}")
        if response.answer and response.answer != response.refusal.message:
            lines.append(response.answer)
    else:
        lines.append(lead(response) + response.answer)
    if response.citations:
        lines += ["", "Sources:"]
        lines += [f"[{c.id}] {c.title} — “{c.text}”" for c in response.citations]
    return "\n".join(lines)


# -- verity serve ---------------------------------------------------------------------------------------
def _serve_arguments(parser: argparse.ArgumentParser, settings: Settings) -> None:
    parser.add_argument("--host", default=settings.host, help=f"default: {settings.host} (VERITY_HOST)")
    parser.add_argument(
        "--port", type=int, default=settings.port, help=f"default: {settings.port} (VERITY_PORT)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=settings.workers,
        help=f"worker processes (default: {settings.workers}, VERITY_WORKERS); more than one needs "
        "VERITY_CHROMA_URL",
    )
    parser.add_argument("--reload", action="store_true", help="restart on code changes (development only)")


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from service.http.observability import configure_logging

    if args.workers < 1:
        print("verity serve: --workers must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    if args.workers > 1 and not settings.chroma_url:
        print(
            "verity serve: more than one worker needs a Chroma server (VERITY_CHROMA_URL): an embedded "
            "Chroma belongs to one process",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.workers > 1 and args.reload:
        print("verity serve: --reload serves one process; drop --workers", file=sys.stderr)
        return EXIT_USAGE
    configure_logging(settings.log_level, settings.log_format)
    # uvicorn's loggers go through the same (JSON) handlers; the app writes its own access log lines.
    # `--reload` serves from a child process that does not inherit this setup: keep uvicorn's there.
    own_logging: dict[str, Any] = {} if args.reload else {"log_config": None, "access_log": False}
    uvicorn.run(
        "service.http.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        reload=args.reload,
        workers=args.workers,
        log_level=settings.log_level.lower(),
        **own_logging,
    )
    return EXIT_OK


# -- verity verify "claim" ---------------------------------------------------------------------------
def _verify_arguments(parser: argparse.ArgumentParser, settings: Settings) -> None:
    parser.add_argument("claim", help="a statement to check against the corpus")
    parser.add_argument("--json", action="store_true", help="print the response as JSON")


def _verify(args: argparse.Namespace, settings: Settings) -> int:
    result = _verity(settings).verify(args.claim)
    if args.json:
        print(result.model_dump_json(indent=2))
        return EXIT_OK
    print(f"{result.verdict}: {result.explanation}")
    for c in result.evidence:
        print(f"  [{c.id}] {c.title} — “{c.text}”")
    return EXIT_OK


# -- verity eval FILE ----------------------------------------------------------------------------------
def _eval_arguments(parser: argparse.ArgumentParser, settings: Settings) -> None:
    parser.add_argument("file", type=Path, help="an eval set (JSONL, the format of seeds/eval.jsonl)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the summary and rows as JSON")
    parser.add_argument("--show", action="store_true", help="print every item's outcome")


def _eval(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from service import evaluation

    if not args.file.is_file():
        raise BadRequest(f"{args.file}: no such eval set")
    items = evaluation.load_items(args.file)
    verity = _verity(settings)
    if verity.store.count() == 0:  # every answer would be a refusal: figures that mean nothing
        print(
            f"verity eval: the index in {settings.data_dir} is empty; run `verity index` first",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    report = evaluation.run(verity, items)
    if args.show:
        for row in report.rows:
            mark = "ok " if row["ok"] else "XX "
            print(mark, row["id"], row["got"], "|", row["text"], "|", str(row.get("answer", ""))[:200])
    summary = report.summary()
    print(evaluation.table(summary))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "rows": report.rows}, indent=1))
    return EXIT_OK


# -- verity slack -------------------------------------------------------------------------------------
def _slack_arguments(parser: argparse.ArgumentParser, settings: Settings) -> None:
    parser.epilog = (
        "Needs VERITY_SLACK_BOT_TOKEN (xoxb-...) and VERITY_SLACK_APP_TOKEN (xapp-..., connections:write); "
        "see the README's Slack section."
    )


def _slack(args: argparse.Namespace, settings: Settings) -> int:
    missing = [
        name
        for name, value in (
            ("VERITY_SLACK_BOT_TOKEN", settings.slack_bot_token),
            ("VERITY_SLACK_APP_TOKEN", settings.slack_app_token),
        )
        if value is None or not value.get_secret_value()
    ]
    if missing:
        print(f"verity slack: set {' and '.join(missing)} (see the README's Slack section)", file=sys.stderr)
        return EXIT_USAGE
    from index.loaders import load_documents
    from service.slack.socket_mode import socket_mode_handler

    verity = _verity(settings)
    if verity.store.count() == 0:
        log.info("the store is empty: indexing %s", settings.corpus_dir)
        verity.index(load_documents(settings.corpus_dir), prune=False, progress=sys.stderr.isatty())
    verity.warm_up()
    log.info("connecting to Slack in Socket Mode")
    socket_mode_handler(settings, verity).start()  # type: ignore[no-untyped-call]  # blocks until stopped
    return EXIT_OK


# -- registry: add new subcommands here
COMMANDS: dict[str, Command] = {
    "index": Command(
        "index files, folders, feeds and URLs of articles into the store", _index_arguments, _index
    ),
    "extract": Command(
        "print articles as `verity index` would store them, as JSON", _extract_arguments, _extract
    ),
    "ask": Command("ask a question and print the cited answer", _ask_arguments, _ask),
    "serve": Command("serve the HTTP API with uvicorn", _serve_arguments, _serve),
    "verify": Command("check a claim against the corpus", _verify_arguments, _verify),
    "eval": Command("score an eval set through the pipeline", _eval_arguments, _eval),
    "slack": Command("run the Slack bot in Socket Mode (no public URL needed)", _slack_arguments, _slack),
}


def _verity(settings: Settings) -> Verity:
    """Build the pipeline (loads the embedding model and spaCy: a few seconds)."""
    from service.answering.pipeline import Verity

    return Verity(settings)


def build_parser(settings: Settings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="verity",
        description="Question answering over a news corpus that cites the exact sentences it rests on.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in COMMANDS.items():
        sub = subparsers.add_parser(name, help=command.help, description=command.help)
        command.arguments(sub, settings)
        sub.set_defaults(run=command.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    settings = Settings()
    level = settings.log_level.upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:  # libraries that set their own loggers to DEBUG stay quiet
        handler.setLevel(level)
    args = build_parser(settings).parse_args(argv)
    try:
        code: int = args.run(args, settings)
    except BadRequest as exc:
        print(f"verity {args.command}: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except VerityError as exc:
        print(f"verity {args.command}: {exc.message}", file=sys.stderr)
        return EXIT_FAILURE
    return code


if __name__ == "__main__":
    sys.exit(main())
