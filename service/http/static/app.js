/* Verity's chat page: one plain script, no dependencies, no build step.
 *
 * Everything on the page comes from the public API: POST /v1/ask (Server-Sent Events when it streams,
 * JSON otherwise), GET /v1/documents and GET /v1/documents/{id}. Text from the corpus or the service is
 * only ever inserted as text nodes (never innerHTML). The conversation lives in localStorage.
 */
"use strict";

const STORAGE_KEY = "verity.conversation.v1";
const HISTORY_TURNS = 10; // turns of context sent with a question (the API accepts up to 50)
const MAX_TURNS_KEPT = 100;
const CONTEXT_CHARS = 420; // how much of a long paragraph to show on each side of a cited sentence
const NARROW = window.matchMedia("(max-width: 760px)"); // keep in step with style.css

const REASONS = {
  out_of_scope: "Not in the corpus",
  insufficient_evidence: "The articles do not say",
  false_premise: "The corpus contradicts the premise",
};

const state = {
  turns: [], // {role: "user", content} | {role: "assistant", response | error | stopped + partial}
  busy: null, // {controller, sentences} while a question is being answered
  documents: null, // GET /v1/documents, once loaded
  docCache: new Map(), // id -> Promise of GET /v1/documents/{id}
  panelMode: null, // "source" | "article" | "corpus"
  panelToken: 0, // bumps on every panel change, so a slow fetch cannot overwrite a newer view
  opener: null, // what to give focus back to when the panel closes
  statusTimer: null,
};

const $ = (id) => document.getElementById(id);

// -- DOM helpers -------------------------------------------------------------------------------------
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function fragment(...children) {
  return append(document.createDocumentFragment(), children);
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

// -- storage -----------------------------------------------------------------------------------------
function loadTurns() {
  try {
    const saved = JSON.parse(localStorage.getItem(STORAGE_KEY) || "null");
    return saved && Array.isArray(saved.turns) ? saved.turns.filter(isValidTurn) : [];
  } catch {
    return []; // unreadable or disabled storage: start a new conversation
  }
}

function isValidTurn(turn) {
  if (!turn || typeof turn !== "object") return false;
  if (turn.role === "user") return typeof turn.content === "string";
  return turn.role === "assistant" && Boolean(turn.response || turn.error || turn.stopped);
}

function saveTurns() {
  try {
    const turns = state.turns.slice(-MAX_TURNS_KEPT);
    localStorage.setItem(STORAGE_KEY, JSON.stringify({ version: 1, turns }));
  } catch {
    // storage full or disabled: the conversation still works, it is just not kept
  }
}

// -- the API -----------------------------------------------------------------------------------------
class ApiError extends Error {
  constructor(code, message, status = 0) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

function unreachable() {
  const message = "The page could not connect to the service. Check that Verity is running, then try again.";
  return new ApiError("unreachable", message);
}

async function readError(response) {
  let code = `http_${response.status}`;
  let message = `The service answered ${response.status} ${response.statusText}`.trim();
  try {
    const body = await response.json();
    if (body && body.error) ({ code, message } = body.error);
  } catch {
    // not a JSON error body (a proxy page, say): keep the status line
  }
  return new ApiError(code, message, response.status);
}

async function getJSON(url) {
  let response;
  try {
    response = await fetch(url, { headers: { accept: "application/json" } });
  } catch {
    throw unreachable();
  }
  if (!response.ok) throw await readError(response);
  return response.json();
}

function getDocument(id) {
  if (!state.docCache.has(id)) {
    const request = getJSON(`/v1/documents/${encodeURIComponent(id)}`);
    request.catch(() => state.docCache.delete(id)); // do not cache failures
    state.docCache.set(id, request);
  }
  return state.docCache.get(id);
}

/* POST /v1/ask with stream: true. Calls onShort with the short answer (streamed first, when there is one)
 * and onSentence for each streamed sentence; resolves to the full AskResponse. Falls back to the JSON body
 * when the response is not an event stream. */
async function askQuestion(question, history, signal, onSentence, onShort) {
  let response;
  try {
    response = await fetch("/v1/ask", {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream, application/json" },
      body: JSON.stringify({ question, history, stream: true }),
      signal,
    });
  } catch (error) {
    throw signal.aborted ? error : unreachable();
  }
  if (!response.ok) throw await readError(response);
  const type = response.headers.get("content-type") || "";
  if (!type.includes("text/event-stream") || !response.body) return response.json();
  return readEvents(response.body, onSentence, onShort);
}

async function readEvents(body, onSentence, onShort) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let match;
    while ((match = /\r?\n\r?\n/.exec(buffer))) {
      const event = parseEvent(buffer.slice(0, match.index));
      buffer = buffer.slice(match.index + match[0].length);
      if (!event) continue;
      if (event.name === "short_answer" && onShort) onShort(event.data);
      if (event.name === "sentence") onSentence(event.data);
      if (event.name === "done") {
        reader.cancel().catch(() => {});
        return event.data;
      }
      if (event.name === "error") {
        const error = event.data.error || {};
        throw new ApiError(error.code || "stream_error", error.message || "The answer failed.");
      }
    }
  }
  throw new ApiError("incomplete", "The answer was cut off before it was complete. Try again.");
}

function parseEvent(block) {
  let name = "message";
  const data = [];
  for (const line of block.split(/\r?\n/)) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") name = value;
    if (field === "data") data.push(value);
  }
  if (!data.length) return null;
  try {
    return { name, data: JSON.parse(data.join("\n")) };
  } catch {
    return null;
  }
}

// -- asking ------------------------------------------------------------------------------------------
function historyFor(turns) {
  const history = [];
  for (const turn of turns) {
    if (turn.role === "user") history.push({ role: "user", content: turn.content });
    else if (turn.response) history.push({ role: "assistant", content: turn.response.answer });
  }
  return history.slice(-HISTORY_TURNS);
}

async function ask(question) {
  question = question.trim();
  if (state.busy || !question) return;
  const history = historyFor(state.turns);
  const controller = new AbortController();
  const busy = { controller, sentences: [] };
  state.busy = busy;
  state.turns.push({ role: "user", content: question });
  saveTurns();
  renderConversation();
  $("announcer").replaceChildren();
  const pending = renderPending();
  $("messages").append(pending);
  setBusy(true);
  scrollToEnd();

  let turn;
  try {
    const response = await askQuestion(
      question,
      history,
      controller.signal,
      (sentence) => {
        busy.sentences.push(sentence);
        appendSentence(pending, sentence);
      },
      (short) => showShortAnswer(pending, short),
    );
    turn = { role: "assistant", response };
    announceResult(response, busy.sentences.length > 0);
  } catch (error) {
    if (controller.signal.aborted) {
      turn = { role: "assistant", stopped: true, partial: busy.sentences };
      announce("Stopped.");
    } else {
      turn = { role: "assistant", error: errorInfo(error) };
      if (error.code === "unreachable") checkService();
    }
  }
  if (state.busy !== busy) return; // a new conversation was started meanwhile
  state.busy = null;
  state.turns.push(turn);
  saveTurns();
  const reply = renderTurn(turn, state.turns.length - 1, true);
  pending.replaceWith(reply);
  setBusy(false);
  showReply(reply);
}

function errorInfo(error) {
  if (error instanceof ApiError) return { code: error.code, message: error.message, status: error.status };
  return {
    code: "connection_lost",
    message: "The connection to Verity was lost before the answer arrived. Try again.",
    status: 0,
  };
}

function stop() {
  if (state.busy) state.busy.controller.abort();
}

/* Ask the question of turn `index` again: drop it (and what followed it), then re-send it. */
function askAgain(index) {
  const turn = state.turns[index];
  if (!turn || turn.role !== "user" || state.busy) return;
  state.turns.splice(index);
  ask(turn.content);
}

function newConversation() {
  stop();
  state.busy = null;
  setBusy(false);
  state.turns = [];
  saveTurns();
  renderConversation();
  $("announcer").replaceChildren();
  if (state.panelMode === "source") closePanel(false);
  $("question").focus();
}

function setBusy(busy) {
  const stopButton = $("stop");
  const sendButton = $("send");
  const hadFocus = document.activeElement === (busy ? sendButton : stopButton);
  sendButton.hidden = busy;
  stopButton.hidden = !busy;
  $("ask-form").setAttribute("aria-busy", String(busy));
  if (hadFocus) (busy ? stopButton : $("question")).focus(); // the focused button just disappeared
}

// -- rendering the conversation ------------------------------------------------------------------------
function renderConversation() {
  const items = state.turns.map((turn, index) => renderTurn(turn, index, false));
  $("messages").replaceChildren(...items);
  $("empty").hidden = state.turns.length > 0;
}

function renderTurn(turn, index, live) {
  if (turn.role === "user") {
    const answered = state.turns[index + 1] && state.turns[index + 1].role === "assistant";
    const waiting = state.busy && index === state.turns.length - 1;
    return fragment(renderUser(turn), answered || waiting ? null : renderUnanswered(index));
  }
  if (turn.response) return renderResponse(turn.response, index, state.turns[index - 1]);
  if (turn.error) return renderError(turn.error, index - 1, live);
  return renderStopped(turn, index - 1);
}

function renderUser(turn) {
  return el(
    "li",
    { class: "msg user" },
    el("h3", { class: "visually-hidden" }, "You asked"),
    el("p", { class: "bubble" }, turn.content),
  );
}

function renderPending() {
  return el(
    "li",
    { class: "msg assistant pending", "aria-busy": "true" },
    el("h3", { class: "msg-label" }, "Answer"),
    el(
      "p",
      { class: "working" },
      el("span", { class: "dots", "aria-hidden": "true" }, el("span"), el("span"), el("span")),
      el("span", { class: "working-text" }, "Searching the articles…"),
    ),
    el("p", { class: "answer-text" }),
  );
}

function showShortAnswer(pending, short) {
  const marker = el("span", { class: "cite inert" }, `[${short.citation}]`);
  const shown = el("p", { class: "short-answer" }, el("strong", {}, short.text), " ", marker);
  pending.querySelector(".answer-text").before(shown);
  announce(short.text);
}

function appendSentence(pending, sentence) {
  const markers = (sentence.citations || []).map((n) => el("span", { class: "cite inert" }, `[${n}]`));
  const text = pending.querySelector(".answer-text");
  append(text, [el("span", { class: "sentence" }, sentence.text, " ", markers), " "]);
  pending.querySelector(".working-text").textContent = "Checking each sentence against its sources…";
  announce(sentence.text);
  scrollToEnd();
}

function renderResponse(response, index, asked) {
  const refused = response.status === "refused";
  const citations = response.citations || [];
  const context = { index, citations };
  const item = el("li", { class: `msg assistant ${refused ? "refused" : "answered"}`, id: `turn-${index}` });
  if (refused) item.append(renderRefusalHead(response.refusal));
  else item.append(el("h3", { class: "msg-label" }, "Answer"));
  const resolved = response.resolved_question;
  if (resolved && asked && normalise(resolved) !== normalise(asked.content)) {
    item.append(el("p", { class: "resolved" }, "Understood as: ", el("q", {}, resolved)));
  }
  if (!refused && response.short_answer) {
    const short = response.short_answer;
    item.append(el("p", { class: "short-answer" }, el("strong", {}, short.text), " ", citeLink(short.citation, context)));
  }
  item.append(renderMarkedText(response.answer, context, "answer-text"));
  for (const conflict of response.conflicts || []) item.append(renderConflict(conflict, context));
  if (citations.length) item.append(renderSourceList(context, refused));
  return item;
}

function normalise(text) {
  return text.toLowerCase().replace(/\s+/g, " ").replace(/[?.!\s]+$/, "").trim();
}

function renderRefusalHead(refusal) {
  const reason = (refusal && REASONS[refusal.reason]) || "Not answered";
  return el(
    "h3",
    { class: "msg-label refusal-label" },
    el("span", { class: "badge" }, "Not answered"),
    " ",
    el("span", { class: "reason" }, reason),
  );
}

/* Text with [n] markers: the markers become links to the source panel. */
function renderMarkedText(text, context, className) {
  const paragraph = el("p", { class: className });
  for (const part of (text || "").split(/((?:\[\d+\])+)/)) {
    if (!/^\[\d+\]/.test(part)) {
      paragraph.append(part);
      continue;
    }
    for (const number of part.match(/\d+/g)) paragraph.append(citeLink(Number(number), context));
  }
  return paragraph;
}

function citeLink(id, context) {
  const citation = context.citations.find((c) => c.id === id);
  if (!citation) return el("span", { class: "cite inert" }, `[${id}]`);
  return el(
    "a",
    {
      class: "cite",
      href: `#source-${context.index}-${id}`,
      "aria-label": `Source ${id}: ${citation.title}`,
      dataset: { turn: context.index, cite: id },
    },
    `[${id}]`,
  );
}

function renderSourceList(context, refused) {
  const byDocument = new Map(); // one line per article, with every marker that cites it
  for (const c of context.citations) {
    if (!byDocument.has(c.document_id)) byDocument.set(c.document_id, []);
    byDocument.get(c.document_id).push(c);
  }
  const items = [...byDocument.values()].map((cited) =>
    el(
      "li",
      {},
      el("span", { class: "source-cites" }, cited.map((c) => citeLink(c.id, context))),
      " ",
      el("span", { class: "source-title" }, cited[0].title),
      cited[0].author ? el("span", { class: "source-author" }, ` — ${cited[0].author}`) : null,
      cited[0].published ? el("time", { class: "source-date", datetime: cited[0].published }, ` (${cited[0].published})`) : null,
    ),
  );
  const heading = refused ? "What the articles say" : "Sources";
  return el("section", { class: "sources", "aria-label": heading }, el("h4", {}, heading), el("ul", {}, items));
}

/* A disagreement: each side quoted with its source. Sides arrive as "Title: sentence". */
function renderConflict(conflict, context) {
  const sides = (conflict.claims || []).map((claim) => renderSide(claim, context));
  return el(
    "section",
    { class: "conflict", "aria-label": "The sources disagree" },
    el("h4", {}, "The sources disagree"),
    conflict.about ? el("p", { class: "conflict-about" }, "On: ", el("q", {}, conflict.about)) : null,
    el("ul", { class: "sides" }, sides),
  );
}

function renderSide(claim, context) {
  const citation = context.citations.find((c) => claim === `${c.title}: ${c.text}` || claim.endsWith(c.text));
  if (!citation) return el("li", { class: "side" }, el("blockquote", {}, claim));
  return el(
    "li",
    { class: "side" },
    el("blockquote", {}, citation.text),
    el("p", { class: "side-source" }, citeLink(citation.id, context), " ", citation.title),
  );
}

function renderError(error, userIndex, live) {
  return el(
    "li",
    { class: "msg assistant error", role: live ? "alert" : null },
    el("h3", { class: "msg-label" }, errorTitle(error)),
    el("p", { class: "error-message" }, error.message),
    retryButton(userIndex, "Try again"),
  );
}

function errorTitle(error) {
  if (error.code === "unreachable") return "Verity can't be reached";
  if (error.code === "not_ready") return "Verity is still starting";
  if (error.status >= 400 && error.status < 500) return "Verity couldn't take this question";
  if (error.status >= 500) return "Something went wrong on Verity's side";
  return "The answer could not be completed";
}

function renderStopped(turn, userIndex) {
  const sentences = (turn.partial || []).map((s) => [el("span", { class: "sentence" }, s.text), " "]);
  return el(
    "li",
    { class: "msg assistant stopped" },
    el("h3", { class: "msg-label" }, "Stopped"),
    sentences.length ? el("p", { class: "answer-text" }, sentences) : null,
    el("p", { class: "note" }, "You stopped this answer before it was complete."),
    retryButton(userIndex, "Ask again"),
  );
}

function renderUnanswered(userIndex) {
  return el(
    "li",
    { class: "msg assistant stopped" },
    el("p", { class: "note" }, "No answer: the page was closed before it arrived."),
    retryButton(userIndex, "Ask again"),
  );
}

function retryButton(userIndex, label) {
  return el("button", { class: "button secondary small", type: "button", dataset: { retry: userIndex } }, label);
}

/* Scroll to the end, unless the reply is taller than the view: then to where it starts. */
function showReply(reply) {
  const conversation = $("conversation");
  if (reply.offsetHeight <= conversation.clientHeight - 24) scrollToEnd();
  else conversation.scrollTop = reply.offsetTop - 16;
}

function scrollToEnd() {
  const conversation = $("conversation");
  conversation.scrollTop = conversation.scrollHeight;
}

// -- screen-reader announcements ---------------------------------------------------------------------
function announce(text) {
  $("announcer").append(el("p", {}, text));
}

function announceResult(response, streamed) {
  if (response.status === "refused") {
    const reason = (response.refusal && REASONS[response.refusal.reason]) || "Not answered";
    announce(`Not answered: ${reason}. ${stripMarkers(response.answer)}`);
  } else {
    const n = (response.citations || []).length;
    if (!streamed) announce(stripMarkers(response.answer));
    announce(`Answer complete, ${plural(n, "source")}.`);
  }
}

function stripMarkers(text) {
  return (text || "").replace(/\s*(?:\[\d+\])+/g, "");
}

// -- the side panel: a cited source, an article, the corpus --------------------------------------------
function openPanel(mode, title, opener) {
  const panel = $("panel");
  const from = opener || document.activeElement;
  if (panel.hidden || !panel.contains(from)) state.opener = from; // links inside the panel keep the first opener
  state.panelMode = mode;
  $("panel-title").textContent = title;
  $("corpus-button").setAttribute("aria-expanded", String(mode === "corpus"));
  panel.hidden = false;
  document.body.classList.add("panel-open");
  syncInert();
  $("panel-title").focus();
  return ++state.panelToken;
}

/* On a narrow screen the panel covers the page: what is under it must not take focus. */
function syncInert() {
  const covered = !$("panel").hidden && NARROW.matches;
  $("main").inert = covered;
  document.querySelector(".topbar").inert = covered;
}

function closePanel(restoreFocus = true) {
  $("panel").hidden = true;
  document.body.classList.remove("panel-open");
  syncInert();
  $("corpus-button").setAttribute("aria-expanded", "false");
  setActiveCite(null);
  state.panelMode = null;
  state.panelToken++;
  const opener = state.opener;
  state.opener = null;
  if (restoreFocus) (opener && opener.isConnected ? opener : $("question")).focus();
}

async function showInPanel(token, build) {
  const body = $("panel-body");
  body.replaceChildren(el("p", { class: "loading" }, "Loading…"));
  try {
    const view = await build();
    if (token === state.panelToken) body.replaceChildren(view);
  } catch (error) {
    if (token === state.panelToken) body.replaceChildren(renderPanelError(error));
  }
}

function renderPanelError(error) {
  const info = errorInfo(error);
  return el(
    "div",
    { class: "panel-error", role: "alert" },
    el("p", { class: "error-title" }, info.code === "not_found" ? "This article is no longer indexed" : errorTitle(info)),
    el("p", {}, info.message),
  );
}

function openSource(turnIndex, citeId, opener) {
  const turn = state.turns[turnIndex];
  const citations = (turn && turn.response && turn.response.citations) || [];
  const citation = citations.find((c) => c.id === citeId);
  if (!citation) return;
  const token = openPanel("source", `Source [${citeId}]`, opener);
  setActiveCite(turnIndex, citeId);
  showInPanel(token, async () => {
    const doc = await getDocument(citation.document_id);
    return renderSource(doc, citation, { index: turnIndex, citations });
  });
}

function renderSource(doc, citation, context) {
  const exact = doc.text.slice(citation.start, citation.end) === citation.text;
  const others = context.citations.filter((c) => c.document_id === doc.id && c.id !== citation.id);
  const highlights = [citation, ...others];
  return fragment(
    el("p", { class: "kicker" }, "Cited article"),
    el("h3", { class: "doc-title" }, doc.title),
    renderByline(doc),
    exact
      ? el("blockquote", { class: "context" }, renderContext(doc.text, citation))
      : el(
          "div",
          { class: "notice" },
          el("p", {}, "The article has changed since this answer. The cited sentence was:"),
          el("blockquote", { class: "context" }, el("mark", {}, citation.text)),
        ),
    others.length
      ? el(
          "section",
          { class: "also" },
          el("h4", {}, "Also cited from this article"),
          el("ul", {}, others.map((c) => el("li", {}, citeLink(c.id, context), " ", el("q", {}, c.text)))),
        )
      : null,
    el(
      "button",
      {
        class: "button secondary",
        type: "button",
        onclick: () => openArticle(doc.id, { highlights, active: citation.id }),
      },
      "Read the whole article",
    ),
  );
}

function renderByline(doc) {
  const parts = [doc.author ? `By ${doc.author}` : "Author not given", doc.source, doc.published];
  return el("p", { class: "byline" }, parts.filter(Boolean).join(" · "));
}

/* The paragraph around a cited sentence, the sentence marked; long paragraphs are trimmed around it. */
function renderContext(text, citation) {
  let start = text.lastIndexOf("\n", citation.start - 1) + 1;
  let end = text.indexOf("\n", citation.end);
  if (end < 0) end = text.length;
  const before = trimStart(text.slice(start, citation.start));
  const after = trimEnd(text.slice(citation.end, end));
  return el("p", {}, before, el("mark", { class: "active" }, citation.text), after);
}

function trimStart(text) {
  if (text.length <= CONTEXT_CHARS) return text;
  const cut = text.indexOf(" ", text.length - CONTEXT_CHARS);
  return `…${text.slice(cut < 0 ? text.length - CONTEXT_CHARS : cut)}`;
}

function trimEnd(text) {
  if (text.length <= CONTEXT_CHARS) return text;
  const cut = text.lastIndexOf(" ", CONTEXT_CHARS);
  return `${text.slice(0, cut < 0 ? CONTEXT_CHARS : cut)} …`;
}

function openArticle(documentId, options = {}) {
  const token = openPanel("article", "Article", options.opener);
  showInPanel(token, async () => {
    const doc = await getDocument(documentId);
    return renderArticle(doc, options);
  }).then(() => {
    const active = $("panel-body").querySelector("mark.active");
    if (active) active.scrollIntoView({ block: "center" });
  });
}

function renderArticle(doc, { highlights = [], active = null, fromCorpus = false }) {
  const marks = highlights
    .filter((c) => doc.text.slice(c.start, c.end) === c.text)
    .sort((a, b) => a.start - b.start);
  return fragment(
    fromCorpus
      ? el("button", { class: "button link back", type: "button", onclick: (e) => openCorpus(e.currentTarget) }, "← All articles")
      : null,
    el("h3", { class: "doc-title" }, doc.title),
    renderByline(doc),
    el("p", { class: "doc-facts" }, `${plural(doc.passages, "passage")} indexed`),
    el("div", { class: "article-text" }, paragraphs(doc.text).map((p) => renderParagraph(doc.text, p, marks, active))),
  );
}

function paragraphs(text) {
  const found = [];
  const pattern = /[^\n]+/g;
  let match;
  while ((match = pattern.exec(text))) {
    if (match[0].trim()) found.push({ start: match.index, end: match.index + match[0].length });
  }
  return found;
}

function renderParagraph(text, paragraph, marks, active) {
  const node = el("p");
  let at = paragraph.start;
  for (const mark of marks) {
    if (mark.start < at || mark.end > paragraph.end) continue;
    node.append(text.slice(at, mark.start));
    node.append(el("mark", { class: mark.id === active ? "active" : null, title: `Cited as [${mark.id}]` }, mark.text));
    at = mark.end;
  }
  node.append(text.slice(at, paragraph.end));
  return node;
}

function openCorpus(opener) {
  const token = openPanel("corpus", "Articles", opener);
  showInPanel(token, async () => renderCorpus(await loadDocuments()));
}

async function loadDocuments() {
  if (!state.documents) state.documents = await getJSON("/v1/documents");
  return state.documents;
}

function renderCorpus(documents) {
  const items = documents.map((doc) =>
    el(
      "li",
      {},
      el(
        "button",
        { class: "doc-button", type: "button", dataset: { doc: doc.id } },
        el("span", { class: "doc-title" }, doc.title),
        el("span", { class: "doc-meta" }, [doc.author, plural(doc.passages, "passage")].filter(Boolean).join(" · ")),
      ),
    ),
  );
  return fragment(
    el("p", { class: "panel-intro" }, `${plural(documents.length, "article")} indexed. Open one to read it.`),
    el("ul", { class: "corpus-list" }, items),
  );
}

function setActiveCite(turnIndex, citeId) {
  for (const link of document.querySelectorAll("a.cite.active")) link.classList.remove("active");
  if (turnIndex === null) return;
  const selector = `#messages a.cite[data-turn="${turnIndex}"][data-cite="${citeId}"]`;
  for (const link of document.querySelectorAll(selector)) link.classList.add("active");
}

// -- service status ----------------------------------------------------------------------------------
async function checkService() {
  clearTimeout(state.statusTimer);
  try {
    state.documents = await getJSON("/v1/documents");
    setStatus("ok", `${plural(state.documents.length, "article")} indexed`);
    renderCorpusSummary(state.documents);
  } catch (error) {
    const starting = error.code === "not_ready";
    setStatus(starting ? "starting" : "down", starting ? "Starting…" : "Service unreachable");
    $("empty-corpus").replaceChildren(
      el("span", { class: starting ? "" : "status-down" }, starting ? "Verity is starting (loading the models and the index)…" : error.message),
    );
    state.statusTimer = setTimeout(checkService, starting ? 2000 : 5000);
  }
}

function setStatus(kind, text) {
  const status = $("service-status");
  status.dataset.state = kind;
  status.textContent = text;
}

function renderCorpusSummary(documents) {
  $("empty-corpus").replaceChildren(
    `${plural(documents.length, "article")} are indexed. `,
    el("button", { class: "button link", type: "button", onclick: (e) => openCorpus(e.currentTarget) }, "Browse them"),
  );
}

// -- events ------------------------------------------------------------------------------------------
function onSubmit(event) {
  event.preventDefault();
  const box = $("question");
  const question = box.value;
  if (!question.trim() || state.busy) return;
  box.value = "";
  autosize(box);
  ask(question);
}

function onQuestionKey(event) {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    $("ask-form").requestSubmit();
  }
}

function autosize(box) {
  box.style.height = "auto";
  box.style.height = `${Math.min(box.scrollHeight, 200)}px`;
}

function onClick(event) {
  const cite = event.target.closest("a.cite[data-cite]");
  if (cite) {
    event.preventDefault();
    openSource(Number(cite.dataset.turn), Number(cite.dataset.cite), cite);
    return;
  }
  const retry = event.target.closest("button[data-retry]");
  if (retry) return askAgain(Number(retry.dataset.retry));
  const doc = event.target.closest("button[data-doc]");
  if (doc) openArticle(doc.dataset.doc, { fromCorpus: true, opener: doc });
}

function onKey(event) {
  if (event.key === "Escape" && !$("panel").hidden) {
    event.preventDefault();
    closePanel();
  }
}

function toggleCorpus(event) {
  if (state.panelMode === "corpus") closePanel();
  else openCorpus(event.currentTarget);
}

function init() {
  state.turns = loadTurns();
  renderConversation();
  scrollToEnd();
  $("ask-form").addEventListener("submit", onSubmit);
  $("question").addEventListener("keydown", onQuestionKey);
  $("question").addEventListener("input", (e) => autosize(e.target));
  $("stop").addEventListener("click", stop);
  $("new-button").addEventListener("click", newConversation);
  $("corpus-button").addEventListener("click", toggleCorpus);
  $("panel-close").addEventListener("click", () => closePanel());
  document.querySelector(".skip-link").addEventListener("click", (e) => {
    e.preventDefault();
    $("question").focus();
  });
  document.addEventListener("click", onClick);
  document.addEventListener("keydown", onKey);
  NARROW.addEventListener("change", syncInert);
  checkService();
}

document.addEventListener("DOMContentLoaded", init);
