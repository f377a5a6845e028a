"""The optional LLM answerer: any OpenAI-compatible server (vLLM, Ollama, llama.cpp, OpenAI) through
llama-index's `OpenAILike`, with every generated sentence verified before it is shown.

The prompt (prompts/answer.txt) numbers the retrieved passages and asks for a citation [n] after every
sentence. Each generated sentence is then checked by the verifier against the sentences of the passages
it cites: supported sentences keep an exact-sentence citation, a sentence whose cited passage does not
support it is re-pointed to one that does, and anything uncited or unsupported is removed and reported.
When nothing verified remains, or the server is down, slow or returns garbage, the caller falls back on
the extractive answer with a note.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from index.split import split_sentences
from service.answering.read import Candidate
from service.answering.retrieve import Corpus, Hit
from service.answering.verify import Verifier
from service.errors import ConfigError

log = logging.getLogger("verity")

PROMPTS = Path(__file__).resolve().parents[2] / "prompts"
_MARKER = re.compile(r"\s*\[(\d+)\]")
NO_ANSWER = "NOT IN SOURCES"


class LLMUnavailable(Exception):
    """The LLM server could not be used (down, timed out, or an unusable reply)."""


@dataclass
class Generated:
    """A verified LLM answer: kept sentences with the candidates they rest on, and what was removed."""

    sentences: list[tuple[str, list[Candidate]]] = field(default_factory=list)
    removed: list[tuple[str, str]] = field(default_factory=list)
    no_answer: bool = False


def load_prompt(name: str = "answer.txt") -> str:
    text = (PROMPTS / name).read_text()
    for placeholder in ("{sources}", "{question}"):
        if placeholder not in text:
            raise ConfigError(f"prompts/{name} must contain {placeholder} (the citation contract)")
    return text


class LLMAnswerer:
    def __init__(
        self, base_url: str, model: str, api_key: str | None, timeout: float, max_tokens: int = 256
    ) -> None:
        try:
            from llama_index.llms.openai_like import OpenAILike
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise ConfigError(
                "VERITY_LLM_BASE_URL is set but the LLM extra is missing: pip install 'verity[llm]'"
            ) from exc
        self.prompt = load_prompt()
        self.llm = OpenAILike(
            model=model,
            api_base=base_url,
            api_key=api_key or "not-needed",
            timeout=timeout,
            max_retries=0,
            max_tokens=max_tokens,
            temperature=0.0,
            is_chat_model=True,
            context_window=4096,
        )

    def generate(self, question: str, sources: list[Hit]) -> str:
        numbered = "\n".join(
            f"[{i}] ({hit.passage.title}) {hit.passage.text}" for i, hit in enumerate(sources, 1)
        )
        prompt = self.prompt.replace("{sources}", numbered).replace("{question}", question)
        try:
            from llama_index.core.llms import ChatMessage

            reply = self.llm.chat([ChatMessage(role="user", content=prompt)])
        except Exception as exc:  # noqa: BLE001 - any client or server failure means "unavailable"
            raise LLMUnavailable(f"{type(exc).__name__}: {exc}") from exc
        text = str(reply.message.content or "").strip()
        if not text:
            raise LLMUnavailable("the LLM returned an empty reply")
        return text

    @staticmethod
    def verify(
        text: str, sources: list[Hit], candidates: list[Candidate], verifier: Verifier, corpus: Corpus
    ) -> Generated:
        """Keep each generated sentence only if a sentence of the sources supports it."""
        out = Generated()
        if NO_ANSWER.lower() in text.lower():
            out.no_answer = True
            return out
        by_source: dict[int, list[Candidate]] = {}
        for i, hit in enumerate(sources, 1):
            by_source[i] = [c for c in candidates if c.passage_id == hit.id]
        for sentence in split_sentences(text.replace("\n", " ")):
            cited = [int(n) for n in _MARKER.findall(sentence.text)]
            claim = _MARKER.sub("", sentence.text).strip()
            if not re.search(r"[A-Za-z]{3}", claim):
                continue
            if not cited:
                out.removed.append((claim, "no citation"))
                continue
            if any(n not in by_source for n in cited):
                out.removed.append((claim, "cites a source that does not exist"))
                continue
            support = [c for n in cited for c in by_source[n] if verifier.supports(claim, c, corpus)]
            if not support:  # re-point: another source may support it
                support = [c for c in candidates if verifier.supports(claim, c, corpus)][:1]
            if support:
                out.sentences.append((claim, support[:2]))
            else:
                out.removed.append((claim, "not supported by the sources it cites"))
        return out
