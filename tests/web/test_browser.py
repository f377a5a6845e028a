"""The web chat page in a real browser (Debian's Chromium driven by Playwright) against the real app.

The app is built by the factory with the session's real `Verity` (real models, real Chroma) and served by
uvicorn on a free localhost port. Each test gets a fresh browser context (empty local storage). Screenshots
go to `test-output/web/`; `answer-with-source.png` is the one in the README (`docs/screenshot.png`).
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from service.answering.pipeline import Verity
from service.config import Settings
from service.http.app import create_app

REPO = Path(__file__).resolve().parents[2]
OUTPUT = REPO / "test-output" / "web"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ASK_TIMEOUT = 90_000  # ms: one question through the real pipeline on 2 cores
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}

ANSWERABLE = "Who urged Trump to kill Soleimani after Iran shot down a U.S. drone?"
OFF_CORPUS = "What is the capital of Australia?"
FALSE_PREMISE = "Why was Soleimani killed in Damascus?"
DISPUTED = "When was the attack that killed an American contractor?"

# Records what the pending answer looked like at every DOM change, to prove sentences appear before the
# answer is complete (an init script runs outside the page's Content-Security-Policy).
STREAM_RECORDER = """
window.__streamLog = [];
new MutationObserver(() => {
  const pending = document.querySelector("#messages li.pending");
  if (!pending) return;
  window.__streamLog.push({
    sentences: pending.querySelectorAll(".sentence").length,
    short: (pending.querySelector(".short-answer strong") || {}).textContent || null,
    working: Boolean(pending.querySelector(".working")),
    stopVisible: !document.getElementById("stop").hidden,
    busy: pending.getAttribute("aria-busy"),
  });
}).observe(document, { childList: true, subtree: true });
"""

# WCAG contrast of every visible text element against the background it is painted on.
CONTRAST_CHECK = """
() => {
  const parse = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const over = (top, bottom) => {
    const a = top.length > 3 ? top[3] : 1;
    return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a));
  };
  const background = (el) => {
    const layers = [];
    for (let n = el; n; n = n.parentElement) {
      const c = parse(getComputedStyle(n).backgroundColor);
      if (c.length > 3 && c[3] === 0) continue;
      layers.push(c);
      if (c.length === 3 || c[3] === 1) break;
    }
    return layers.reverse().reduce((acc, layer) => over(layer, acc), [255, 255, 255]);
  };
  const failures = [];
  let checked = 0;
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.checkVisibility() || el.closest(".visually-hidden")) continue;
    const style = getComputedStyle(el);
    const bg = background(el);
    const fg = over(parse(style.color), bg);
    const [l1, l2] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const ratio = (l1 + 0.05) / (l2 + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    checked += 1;
    if (ratio < (large ? 3 : 4.5)) {
      const text = el.textContent.trim().slice(0, 40);
      failures.push(`${el.tagName}.${el.className} "${text}": ${ratio.toFixed(2)}`);
    }
  }
  return { checked, failures };
}
"""


# -- the server and the browser -------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serving(app: FastAPI) -> Iterator[tuple[str, uvicorn.Server]]:
    """The app served by uvicorn in a thread on a free localhost port, once /healthz says ok."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if server.started and httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert thread.is_alive(), "uvicorn exited"
            assert time.monotonic() < deadline, "the app did not become healthy"
            time.sleep(0.1)
        yield url, server
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="module")
def base_url(settings: Settings, verity: Verity) -> Iterator[str]:
    with serving(create_app(settings, verity=verity)) as (url, _server):
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class PageErrors:
    """Uncaught exceptions in the page, and requests that left the app's origin (it must work offline)."""

    def __init__(self, page: Page, origin: str) -> None:
        self.exceptions: list[str] = []
        self.foreign: list[str] = []
        page.on("pageerror", lambda error: self.exceptions.append(str(error)))
        page.on("request", lambda request: self._request(request.url, origin))

    def _request(self, url: str, origin: str) -> None:
        if not url.startswith((origin, "data:")):
            self.foreign.append(url)


def open_page(browser: Browser, base_url: str, **context: Any) -> tuple[Page, PageErrors]:
    ctx = browser.new_context(viewport=context.pop("viewport", DESKTOP), **context)
    page = ctx.new_page()
    page.set_default_timeout(15_000)
    errors = PageErrors(page, base_url)
    page.goto(base_url + "/")
    expect(page.locator("#service-status")).to_have_attribute("data-state", "ok")
    return page, errors


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    page, errors = open_page(browser, base_url)
    yield page
    page.context.close()
    assert not errors.exceptions, errors.exceptions
    assert not errors.foreign, f"the page fetched from outside the app: {errors.foreign}"


def shot(page: Page, name: str) -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    path = OUTPUT / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def ask(page: Page, question: str) -> Locator:
    """Type a question and press Enter; returns the finished reply (answer, refusal or error)."""
    replies = page.locator("#messages li.assistant:not(.pending)")
    before = replies.count()
    page.locator("#question").fill(question)
    page.locator("#question").press("Enter")
    reply = replies.nth(before)
    expect(reply).to_be_visible(timeout=ASK_TIMEOUT)
    return reply


def saved_turns(page: Page) -> list[dict[str, Any]]:
    raw = page.evaluate("localStorage.getItem('verity.conversation.v1')")
    turns: list[dict[str, Any]] = json.loads(raw)["turns"]
    return turns


def document_text(base_url: str, document_id: str) -> str:
    response = httpx.get(f"{base_url}/v1/documents/{document_id}", timeout=30)
    assert response.status_code == 200, response.text
    text: str = response.json()["text"]
    return text


# -- the page itself ------------------------------------------------------------------------------------
def test_page_is_served_self_contained(base_url: str) -> None:
    page = httpx.get(base_url + "/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    for name, kind in (("app.js", "text/javascript"), ("style.css", "text/css")):
        response = httpx.get(f"{base_url}/static/{name}")
        assert response.status_code == 200 and response.headers["content-type"].startswith(kind)
        assert "http://" not in response.text and "https://" not in response.text  # no CDN, no web font
    missing = httpx.get(f"{base_url}/static/..%2Fapp.py")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


# -- answering ------------------------------------------------------------------------------------------
def test_answer_streams_in_sentence_by_sentence(page: Page) -> None:
    page.add_init_script(STREAM_RECORDER)
    page.reload()
    with page.expect_response("**/v1/ask") as response_info:
        reply = ask(page, ANSWERABLE)
    response = response_info.value
    assert json.loads(response.request.post_data or "{}")["stream"] is True
    assert response.headers["content-type"].startswith("text/event-stream")

    expect(reply).to_have_class("msg assistant answered")
    expect(reply.locator(".answer-text")).to_contain_text("Bolton")
    expect(reply.locator(".answer-text")).to_contain_text("Pompeo")
    body = saved_turns(page)[-1]["response"]
    assert reply.locator(".answer-text a.cite").count() >= len(body["citations"]) > 0

    log: list[dict[str, Any]] = page.evaluate("window.__streamLog")
    streamed = [entry["sentences"] for entry in log if entry["sentences"]]
    assert streamed, f"no sentence was shown before the answer was complete: {log}"
    assert streamed == sorted(streamed) and streamed[-1] == len(body["claims"])
    # the short answer was shown, in bold, before the first sentence
    first = next(entry for entry in log if entry["sentences"])
    assert body["short_answer"] and first["short"] == body["short_answer"]["text"]
    assert all(e["working"] and e["stopVisible"] and e["busy"] == "true" for e in log)
    # streamed sentences were announced to screen readers
    expect(page.locator("#announcer[aria-live=polite]")).to_contain_text(body["claims"][0]["text"])
    expect(page.locator("#stop")).to_be_hidden()
    shot(page, "answer")


def test_citation_opens_the_source_with_the_sentence_highlighted(page: Page, base_url: str) -> None:
    reply = ask(page, ANSWERABLE)
    citations = saved_turns(page)[-1]["response"]["citations"]
    first = citations[0]
    reply.locator("a.cite", has_text="[1]").first.click()

    panel = page.locator("#panel")
    expect(panel).to_be_visible()
    expect(panel.locator(".doc-title")).to_have_text(first["title"])
    mark = panel.locator(".context mark.active")
    expect(mark).to_have_text(first["text"])
    text = document_text(base_url, first["document_id"])
    assert text[first["start"] : first["end"]] == first["text"]
    context = panel.locator(".context p").inner_text()
    assert first["text"] in context and len(context) > len(first["text"])  # inside its paragraph

    same_article = [c for c in citations if c["document_id"] == first["document_id"] and c is not first]
    expect(panel.locator(".also li")).to_have_count(len(same_article))
    expect(page.locator("#messages a.cite.active").first).to_have_text("[1]")
    path = shot(page, "answer-with-source")
    (REPO / "docs").mkdir(exist_ok=True)
    shutil.copyfile(path, REPO / "docs" / "screenshot.png")

    panel.get_by_role("button", name="Read the whole article").click()
    expect(panel.locator(".article-text mark.active")).to_have_text(first["text"])
    expect(panel.locator(".article-text mark")).to_have_count(1 + len(same_article))
    expect(panel.locator(".article-text mark.active")).to_be_in_viewport()
    # the long article scrolls inside the panel; the page itself never scrolls
    assert page.evaluate("document.scrollingElement.scrollHeight") <= DESKTOP["height"]
    expect(page.locator(".topbar")).to_be_in_viewport()


def test_refusals_look_different_from_answers(page: Page) -> None:
    refusal = ask(page, OFF_CORPUS)
    expect(refusal).to_have_class("msg assistant refused")
    expect(refusal.locator(".badge")).to_have_text("Not answered")
    expect(refusal.locator(".reason")).to_have_text(re_any("Not in the corpus", "The articles do not say"))
    expect(refusal.locator("a.cite")).to_have_count(0)

    page.locator("#new-button").click()
    premise = ask(page, FALSE_PREMISE)
    expect(premise).to_have_class("msg assistant refused")
    expect(premise.locator(".reason")).to_have_text("The corpus contradicts the premise")
    expect(premise.locator(".answer-text")).to_contain_text("Baghdad")  # the correction
    premise.locator(".answer-text a.cite").first.click()
    expect(page.locator("#panel .context mark.active")).to_contain_text("Baghdad")
    shot(page, "false-premise")


def test_disagreements_show_each_side_with_its_source(page: Page, base_url: str) -> None:
    body = httpx.post(f"{base_url}/v1/ask", json={"question": DISPUTED}, timeout=120).json()
    if not body["conflicts"]:
        pytest.skip("the pipeline reports no disagreement for this question any more; pick another")
    reply = ask(page, DISPUTED)
    conflict = reply.locator(".conflict")
    expect(conflict).to_be_visible()
    expect(conflict.locator("h4")).to_have_text("The sources disagree")
    sides = conflict.locator(".side")
    expect(sides).to_have_count(len(body["conflicts"][0]["claims"]))
    for i in range(sides.count()):
        expect(sides.nth(i).locator(".side-source a.cite")).to_have_count(1)
    shot(page, "disagreement")


def test_follow_up_sends_the_conversation(page: Page) -> None:
    first_question = "Who else died in the drone strike that killed Soleimani?"
    first = ask(page, first_question)
    expect(first).to_have_class("msg assistant answered")
    with page.expect_request("**/v1/ask") as request_info:
        second = ask(page, "What group did he lead?")
    sent = json.loads(request_info.value.post_data or "{}")
    answer = saved_turns(page)[1]["response"]["answer"]
    assert sent["history"] == [
        {"role": "user", "content": first_question},
        {"role": "assistant", "content": answer},
    ]
    expect(page.locator("#messages li.user")).to_have_count(2)
    resolved = saved_turns(page)[-1]["response"].get("resolved_question")
    if resolved and resolved.rstrip("?") != "What group did he lead":
        expect(second.locator(".resolved")).to_contain_text(resolved)
    shot(page, "follow-up")


def test_conversation_survives_a_reload_until_a_new_one_starts(page: Page) -> None:
    ask(page, ANSWERABLE)
    ask(page, OFF_CORPUS)
    page.reload()
    expect(page.locator("#messages li.user")).to_have_count(2)
    expect(page.locator("#messages li.answered")).to_have_count(1)
    expect(page.locator("#messages li.refused")).to_have_count(1)
    expect(page.locator("#empty")).to_be_hidden()
    page.locator("#messages li.answered a.cite").first.click()  # citations still open their source
    expect(page.locator("#panel .context mark.active")).to_be_visible()

    page.locator("#new-button").click()
    expect(page.locator("#messages li")).to_have_count(0)
    expect(page.locator("#panel")).to_be_hidden()
    page.reload()
    expect(page.locator("#messages li")).to_have_count(0)
    expect(page.locator("#empty")).to_be_visible()


def test_working_state_and_stop(page: Page) -> None:
    page.route("**/v1/ask", lambda route: None)  # hold the request: the answer never arrives
    page.locator("#question").fill(ANSWERABLE)
    page.locator("#question").press("Enter")
    pending = page.locator("#messages li.pending")
    expect(pending).to_have_attribute("aria-busy", "true")
    expect(pending.locator(".working")).to_be_visible()
    expect(page.locator("#send")).to_be_hidden()
    page.locator("#stop").click()
    stopped = page.locator("#messages li.stopped")
    expect(stopped).to_contain_text("You stopped this answer")
    expect(page.locator("#send")).to_be_visible()
    expect(page.locator("#question")).to_be_focused()

    page.unroute("**/v1/ask")
    stopped.get_by_role("button", name="Ask again").click()
    expect(page.locator("#messages li.answered")).to_be_visible(timeout=ASK_TIMEOUT)
    expect(page.locator("#messages li.user")).to_have_count(1)

    page.route("**/v1/ask", lambda route: None)  # a new conversation while an answer is on its way
    page.locator("#question").fill(OFF_CORPUS)
    page.locator("#question").press("Enter")
    expect(page.locator("#messages li.pending")).to_be_visible()
    page.locator("#new-button").click()
    expect(page.locator("#messages li")).to_have_count(0)
    expect(page.locator("#send")).to_be_visible()
    page.wait_for_timeout(300)
    expect(page.locator("#messages li")).to_have_count(0)
    assert saved_turns(page) == []


# -- corpus, errors, keyboard, phone, contrast ---------------------------------------------------------
def test_corpus_panel_lists_the_articles_and_opens_one(page: Page, base_url: str) -> None:
    documents = httpx.get(f"{base_url}/v1/documents").json()
    page.locator("#corpus-button").click()
    expect(page.locator("#corpus-button")).to_have_attribute("aria-expanded", "true")
    buttons = page.locator("#panel .doc-button")
    expect(buttons).to_have_count(len(documents))
    for i, doc in enumerate(documents):
        expect(buttons.nth(i).locator(".doc-title")).to_have_text(doc["title"])
        expect(buttons.nth(i).locator(".doc-meta")).to_contain_text(f"{doc['passages']} passage")
    shot(page, "corpus")

    buttons.first.click()
    panel = page.locator("#panel")
    expect(panel.locator("h3.doc-title")).to_have_text(documents[0]["title"])
    first_line = document_text(base_url, documents[0]["id"]).split("\n")[0]
    expect(panel.locator(".article-text p").first).to_have_text(first_line)
    panel.get_by_role("button", name="← All articles").click()
    expect(buttons).to_have_count(len(documents))


def test_errors_are_explained_not_blank(
    page: Page, browser: Browser, settings: Settings, verity: Verity
) -> None:
    reply = ask(page, "Why " + "really " * 330 + "?")  # over 2,000 characters: a 422 from the API
    expect(reply).to_have_class("msg assistant error")
    expect(reply.locator(".msg-label")).to_have_text("Verity couldn't take this question")
    expect(reply.locator(".error-message")).to_contain_text("2000")

    with serving(create_app(settings, verity=verity)) as (url, _server):
        down, errors = open_page(browser, url)
    failed = ask(down, ANSWERABLE)  # the service went away while the page was open
    expect(failed).to_have_class("msg assistant error")
    expect(failed).to_have_attribute("role", "alert")
    expect(failed.locator(".msg-label")).to_have_text("Verity can't be reached")
    expect(down.locator("#service-status")).to_have_attribute("data-state", "down")
    shot(down, "service-down")
    assert not errors.exceptions, errors.exceptions
    down.context.close()


def test_keyboard_alone(page: Page) -> None:
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    box = page.locator("#question")
    expect(box).to_be_focused()
    page.keyboard.type("first line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    assert box.input_value() == "first line\nsecond line"
    expect(page.locator("#messages li")).to_have_count(0)  # Shift+Enter did not send

    box.fill("")
    page.keyboard.type(ANSWERABLE)
    page.keyboard.press("Enter")
    expect(page.locator("#messages li.answered")).to_be_visible(timeout=ASK_TIMEOUT)
    expect(box).to_be_focused()
    page.keyboard.press("Shift+Tab")  # back from the box: the last citation link of the answer
    focused = page.locator("#messages a.cite:focus")
    expect(focused).to_have_count(1)
    page.keyboard.press("Enter")
    expect(page.locator("#panel")).to_be_visible()
    expect(page.locator("#panel-title")).to_be_focused()
    expect(page.locator("#panel .context mark.active")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#panel")).to_be_hidden()
    expect(page.locator("#messages a.cite.active")).to_have_count(0)
    assert page.evaluate("document.activeElement.classList.contains('cite')")


def test_narrow_phone_screen(browser: Browser, base_url: str) -> None:
    page, errors = open_page(browser, base_url, viewport=PHONE, is_mobile=True, has_touch=True)
    shot(page, "phone-empty")
    reply = ask(page, ANSWERABLE)
    expect(reply).to_have_class("msg assistant answered")
    size = "[document.scrollingElement.scrollWidth, document.scrollingElement.scrollHeight]"
    width, height = page.evaluate(size)
    assert width <= PHONE["width"], f"the page scrolls sideways: {width}px"
    assert height <= PHONE["height"], f"the page itself scrolls: {height}px"  # only the conversation does
    for selector in ("#corpus-button", "#new-button", "#question", "#send"):
        box = page.locator(selector).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], selector
        assert box["y"] + box["height"] <= PHONE["height"], selector
    shot(page, "phone-answer")

    reply.locator("a.cite").first.tap()
    panel = page.locator("#panel")
    expect(panel.locator(".context mark.active")).to_be_visible()
    box = panel.bounding_box()
    assert box and box["width"] == PHONE["width"]  # the source covers the screen
    assert page.evaluate("document.getElementById('main').inert")  # and what it covers takes no focus
    shot(page, "phone-source")
    page.locator("#panel-close").tap()
    expect(panel).to_be_hidden()
    assert not errors.exceptions, errors.exceptions
    page.context.close()


def test_colours_meet_wcag_aa_contrast(page: Page) -> None:
    ask(page, ANSWERABLE)
    ask(page, FALSE_PREMISE)
    ask(page, "x" * 2001)
    page.locator("#messages li.answered a.cite").first.click()
    expect(page.locator("#panel .context mark.active")).to_be_visible()
    page.locator("#messages li.answered a.cite").first.focus()
    result = page.evaluate(CONTRAST_CHECK)
    assert result["checked"] > 20
    assert not result["failures"], result["failures"]
    page.locator("#corpus-button").click()
    expect(page.locator("#panel .doc-button").first).to_be_visible()
    result = page.evaluate(CONTRAST_CHECK)
    assert not result["failures"], result["failures"]


def re_any(*options: str) -> re.Pattern[str]:
    return re.compile("^(" + "|".join(re.escape(o) for o in options) + ")$")
