"""The service against a real Chroma server (the docker-compose topology, as processes): first start
indexes the seeds into the server, answers come from it, replicas see each other's writes, and an
outage of the server is a 503 that heals by itself once the server is back."""

from __future__ import annotations

import gc
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import chromadb
import httpx
from ops_topology import BOLTON, Topology, free_port, reaped, subprocess_env, wait_for

from index.documents import Document
from index.indexer import index_documents
from index.store import ChromaStore, connect

LIGHTHOUSE = Document(
    id="ops_lighthouse",
    title="Port Elsinore opens a new lighthouse",
    text=(
        "The harbour authority of Port Elsinore opened a new lighthouse on the north breakwater on "
        "Tuesday. Its keeper, Marguerite Olsson, said the light can be seen forty kilometres out at sea. "
        "The old lighthouse, built in 1874, will become a maritime museum."
    ),
)
KEEPER = "Who is the keeper of the new lighthouse in Port Elsinore?"


def test_first_start_indexes_the_seeds_into_the_server_and_answers(topology: Topology) -> None:
    health = topology.client.get("/healthz").json()
    seeds = len(list(Path(topology.settings.corpus_dir).glob("*.txt")))
    assert health["status"] == "ok" and health["documents"] == seeds and health["passages"] > 0, health
    # the app this process serves set how long a thread may hold the GIL, as `verity serve` does
    assert sys.getswitchinterval() == topology.settings.serve_switch_interval_ms / 1000
    assert gc.get_freeze_count() > 0  # and left what start-up built out of the collector's full walks

    # the data is in the server, not in the app: a separate client sees it there
    server = chromadb.HttpClient(host="127.0.0.1", port=topology.chroma.port)
    assert server.get_collection("verity").count() == health["passages"]
    assert server.get_collection("verity_documents").count() == seeds

    response = topology.ask(BOLTON)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "answered", body
    assert "Bolton" in body["answer"] and "Pompeo" in body["answer"], body["answer"]
    for citation in body["citations"]:
        document = topology.client.get(f"/v1/documents/{citation['document_id']}").json()
        assert document["text"][citation["start"] : citation["end"]] == citation["text"]


def test_a_replica_sees_what_another_one_indexed(topology: Topology) -> None:
    """Another writer (a second replica, `verity index` elsewhere) writes to the same Chroma: the served
    app rebuilds its in-process lexical index and answers from the new article, then forgets it."""
    verity = topology.api.app.state.verity_state.verity
    other = ChromaStore(connect(url=topology.chroma.url), topology.settings.collection)
    before = topology.client.get("/healthz").json()
    index_documents([LIGHTHOUSE], other, verity.embedder, verity.analyzer, progress=False)
    try:

        def cites_lighthouse() -> bool:
            body = topology.ask(KEEPER).json()
            return body["status"] == "answered" and any(
                c["document_id"] == LIGHTHOUSE.id for c in body["citations"]
            )

        wait_for(cites_lighthouse, 30, "the served app answering from the other writer's article", 0.5)
        body = topology.ask(KEEPER).json()
        assert "Marguerite Olsson" in body["answer"], body
        assert topology.client.get(f"/v1/documents/{LIGHTHOUSE.id}").status_code == 200
    finally:
        other.delete_document(LIGHTHOUSE.id)

    wait_for(
        lambda: all(c["document_id"] != LIGHTHOUSE.id for c in topology.ask(KEEPER).json()["citations"]),
        30,
        "the served app forgetting the deleted article",
        0.5,
    )
    assert topology.client.get(f"/v1/documents/{LIGHTHOUSE.id}").status_code == 404
    assert topology.client.get("/healthz").json() == before


def test_a_chroma_outage_is_a_503_and_heals_without_restarting_the_service(topology: Topology) -> None:
    expected = topology.ask(BOLTON).json()
    short = httpx.Timeout(30.0, connect=5.0)
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    stop = threading.Event()

    def traffic() -> None:  # questions keep arriving while the server goes away and comes back
        with httpx.Client(base_url=topology.api.url, timeout=short) as client:
            while not stop.is_set():
                try:
                    response = client.post("/v1/ask", json={"question": BOLTON})
                except httpx.HTTPError as exc:  # a timeout or a dropped connection: the service hung
                    failures.append(repr(exc))
                    continue
                statuses[response.status_code] += 1
                if response.status_code not in (200, 503):
                    failures.append(f"{response.status_code}: {response.text[:300]}")

    worker = threading.Thread(target=traffic, name="ops-traffic", daemon=True)
    worker.start()
    try:
        time.sleep(1.0)
        topology.chroma.stop()
        started = time.monotonic()

        down = topology.ask(BOLTON, timeout=short)
        assert down.status_code == 503, down.text
        error = down.json()["error"]
        assert error["code"] == "store_unavailable", error
        assert "store" in error["message"] and "unavailable" in error["message"], error
        assert time.monotonic() - started < 10, "an outage must fail fast, not hang"
        health = topology.client.get("/healthz", timeout=short)
        assert health.status_code == 503 and health.json()["status"] == "unavailable", health.text
        documents = topology.client.get("/v1/documents", timeout=short)
        assert documents.status_code == 503, documents.text
        assert documents.json()["error"]["code"] == "store_unavailable"
        claim = topology.client.post("/v1/verify", json={"claim": "Bolton urged Trump to kill Soleimani."})
        assert claim.status_code == 503 and claim.json()["error"]["code"] == "store_unavailable"
        time.sleep(1.0)

        topology.chroma.start()  # same port, same data
        wait_for(lambda: topology.client.get("/healthz").status_code == 200, 30, "/healthz recovered", 0.25)
        wait_for(lambda: topology.ask(BOLTON).status_code == 200, 30, "/v1/ask recovered", 0.25)
        time.sleep(1.0)
    finally:
        stop.set()
        worker.join(timeout=60)
        if topology.chroma.process is None:  # leave the session's topology running for later tests
            topology.chroma.start()

    assert topology.ask(BOLTON).json() == expected
    assert topology.client.get("/healthz").json()["status"] == "ok"
    assert not failures, failures[:5]
    assert statuses[200] > 0 and statuses[503] > 0, statuses


def test_serve_with_two_workers_on_the_server(topology: Topology, tmp_path: Path) -> None:
    """`verity serve --workers 2`: two processes answer from the one Chroma server; an embedded store
    (one process's files) refuses more than one worker before anything loads."""
    port = free_port()
    env = subprocess_env(chroma_url=topology.chroma.url, port=str(port), data_dir=str(tmp_path / "data"))
    env["VERITY_COLLECTION"] = topology.settings.collection
    log = (tmp_path / "serve.log").open("wb")
    command = [str(Path(sys.executable).parent / "verity"), "serve", "--workers", "2"]
    with reaped(subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)) as parent:
        url = f"http://127.0.0.1:{port}"

        def workers() -> list[int]:
            children = []
            for status in Path("/proc").glob("[0-9]*/status"):
                try:
                    fields = dict(
                        line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line
                    )
                except OSError:
                    continue
                if fields.get("PPid", "").strip() == str(parent.pid):
                    children.append(int(status.parent.name))
            return children

        def answered_by_fresh_connections() -> bool:
            for _ in range(4):  # a new connection each: the kernel hands them to either worker
                try:
                    response = httpx.post(f"{url}/v1/ask", json={"question": BOLTON}, timeout=60)
                except httpx.TransportError:
                    return False
                if response.status_code != 200:
                    return False
                assert response.json()["status"] == "answered", response.text
            return True

        wait_for(lambda: len(workers()) >= 2, 60, "two worker processes")
        wait_for(answered_by_fresh_connections, 300, "both workers answering", 1.0)
        parent.send_signal(signal.SIGINT)
        assert parent.wait(60) == 0

    embedded = subprocess_env(data_dir=str(tmp_path / "embedded"))
    refused = subprocess.run([*command], env=embedded, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "VERITY_CHROMA_URL" in refused.stderr, refused.stderr
