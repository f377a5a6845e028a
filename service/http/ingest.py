"""Fetch the `{"url"}` items of `POST /v1/documents`: the same fetching and extraction as `verity index
--urls` (`index/fetch.py`, `index/sources.py`), with each failure kept for its item's report.

The network is the slow part of such a request and may fail in many ways that are nobody's bug; here
they become `ErrorBody`s (`not_found`, `timeout`, `not_html`, `too_large`, `disallowed`, `no_text`, …)
so that `service/http/documents_api.py` can write the other items and say what happened to each.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from index.documents import Document
from service.http.schemas import ErrorBody

if TYPE_CHECKING:
    from index.fetch import FetchOptions
    from service.http.documents_api import UrlDocumentIn


def fetch_documents(
    items: Sequence[tuple[int, UrlDocumentIn]], options: FetchOptions
) -> tuple[dict[int, Document], dict[int, ErrorBody]]:
    """The cleaned document of each item (by its index in the request), or why there is none."""
    if not items:
        return {}, {}
    from index.fetch import Fetcher
    from index.loaders import LoadError, clean
    from index.sources import fetch_page

    documents: dict[int, Document] = {}
    failures: dict[int, ErrorBody] = {}
    with Fetcher(options) as fetcher:
        for i, item in items:
            try:
                raw = fetch_page(
                    item.url,
                    fetcher,
                    doc_id=item.document_id(),
                    title=item.title,
                    author=item.author,
                    published=item.published,
                    source=item.source,
                )
                documents[i] = clean(item.url, raw)
            except LoadError as exc:  # FetchError included
                failures[i] = ErrorBody(code=exc.code, message=str(exc))
    return documents, failures
