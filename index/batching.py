"""Opportunistic batching for the models a request runs: the embedder and the spaCy parser.

Both run one call at a time (a forward saturates the cores; spaCy is not documented as thread-safe), and
both cost much less per text in a batch than one by one. So concurrent callers queue their texts, and
whoever gets the model next runs everything queued in one call. A lone caller runs at once: nothing
waits for company, and there is no timer to tune.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from threading import Lock
from typing import Generic, TypeVar

T = TypeVar("T")


class _Pending(Generic[T]):
    """One caller's texts, and what came back for them."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.results: dict[str, T] = {}
        self.error: BaseException | None = None
        self.done = False


class Batcher(Generic[T]):
    def __init__(self, run: Callable[[list[str]], Sequence[T]]) -> None:
        self._run = run
        self._lock = Lock()  # the waiting list
        self._model = Lock()  # one call at a time
        self._waiting: list[_Pending[T]] = []

    def __call__(self, texts: list[str]) -> dict[str, T]:
        """Results for `texts`, computed in one call together with other callers' waiting texts."""
        mine = _Pending[T](texts)
        with self._lock:
            self._waiting.append(mine)
        with self._model:
            if not mine.done:  # else a caller before us ran our texts in its batch
                with self._lock:
                    batch, self._waiting = self._waiting, []
                wanted = list(dict.fromkeys(t for pending in batch for t in pending.texts))
                try:
                    results = dict(zip(wanted, self._run(wanted), strict=True))
                except BaseException as exc:  # every caller in the batch sees the failure
                    for pending in batch:
                        pending.error, pending.done = exc, True
                    raise
                for pending in batch:
                    pending.results = {t: results[t] for t in pending.texts}
                    pending.done = True
        if mine.error is not None:
            raise mine.error
        return mine.results
