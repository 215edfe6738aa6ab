// The live view: a snapshot, then at most one frame per tick over /ws (format version 2,
// docs/live-view.md); the page draws once per frame that arrives.
"use strict";

const VERSION = 2;
// The server sends a frame at least once a second: longer without one, and the feed is
// shown as stalled.
const STALLED_AFTER_MS = 3000;
const state = {
  replicas: [], messages: new Map(), history: 50, rowsPerSecond: 10, deadLetters: [],
  counters: { published: 0, shown: 0, acked: 0, rejected: 0, dead_lettered: 0 },
  rates: { messages: 0, deliveries: 0 },
};
const connection = document.getElementById("connection");
let lastFrameAt = 0;
let unsupported = false;

function setConnection(text, kind) {
  connection.textContent = text;
  connection.dataset.state = kind;
}

function bump(key) {
  connection.dataset[key] = String(Number(connection.dataset[key]) + 1);
}

function apply(body) {
  if (body.version !== VERSION) {
    unsupported = true;
    setConnection(`unsupported feed version ${body.version}`, "closed");
    return false;
  }
  if (body.type === "snapshot") {
    state.history = body.history;
    state.rowsPerSecond = body.rows_per_second;
    state.messages = new Map();
  }
  for (const row of body.messages) state.messages.set(row.message_id, row);
  if (state.messages.size > state.history) {
    // Keep the newest rows, by the server's order.
    const newest = [...state.messages.values()].sort((a, b) => b.index - a.index).slice(0, state.history);
    state.messages = new Map(newest.map((row) => [row.message_id, row]));
  }
  if (body.replicas) state.replicas = body.replicas;
  if (body.dead_letters) state.deadLetters = body.dead_letters;
  state.counters = body.counters;
  state.rates = body.rates;
  return true;
}

// Frames come 10 a second at most; should two arrive within one animation frame, draw once.
let renderPending = false;
function scheduleRender() {
  if (renderPending) return;
  renderPending = true;
  requestAnimationFrame(() => {
    renderPending = false;
    render();
  });
}

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

const number = new Intl.NumberFormat("en");
const rate = (value) => (value < 10 ? value.toFixed(1) : number.format(Math.round(value)));

function renderCounters() {
  const c = state.counters;
  document.getElementById("count-published").textContent = number.format(c.published);
  document.getElementById("count-acked").textContent = number.format(c.acked);
  document.getElementById("count-rejected").textContent = number.format(c.rejected);
  document.getElementById("count-dead-lettered").textContent = number.format(c.dead_lettered);
  document.getElementById("count-replicas").textContent = state.replicas.filter((r) => r.status === "joined").length;
  document.getElementById("rate-messages").textContent = rate(state.rates.messages);
  document.getElementById("rate-deliveries").textContent = rate(state.rates.deliveries);
  document.getElementById("rows-note").textContent = c.shown < c.published
    ? `Rows: a sample, ${number.format(c.shown)} of ${number.format(c.published)} messages (at most ${state.rowsPerSecond} new rows a second, the newest ${state.history} kept); the counters count every message.`
    : `Rows: every message, the newest ${state.history} kept.`;
}

function renderHead() {
  const head = document.getElementById("grid-head");
  head.replaceChildren(el("th", { class: "msg" }, "message"), el("th", { class: "chan" }, "channel"));
  for (const r of state.replicas) {
    const th = el("th", { class: `replica ${r.status}`, "data-replica-id": r.id, "data-status": r.status, title: r.id });
    // The replica's ID (its host name by default), unique among live replicas; its
    // subscription, <topic>-<replica id>, in the tooltip.
    th.append(el("span", { class: "dot" }), el("span", { class: "host" }, r.host));
    const status = r.status === "joined" ? "" : `${r.status} · `;
    th.append(el("span", { class: "sub" }, `${status}${number.format(r.acked)} acked`
      + (r.rejected ? ` · ${number.format(r.rejected)} nacks` : "")));
    head.append(th);
  }
}

function renderRows() {
  const rows = [...state.messages.values()].sort((a, b) => b.index - a.index); // newest first
  document.getElementById("grid-body").replaceChildren(...rows.map((m) => {
    const tr = el("tr", { "data-message-id": m.message_id });
    const id = el("td", { class: "msg" });
    id.append(el("code", {}, m.message_id));
    if (m.sequence !== null) id.append(el("span", { class: "seq" }, ` #${m.sequence}`));
    tr.append(id, el("td", { class: "chan" }, m.channel || "…"));
    for (const r of state.replicas) {
      const outcome = m.handled[r.id] || (r.status === "left" ? "gone" : "pending");
      tr.append(el("td", { class: `cell ${outcome} ${r.status}`, "data-replica": r.id, "data-outcome": outcome }));
    }
    return tr;
  }));
  document.getElementById("empty").hidden = rows.length > 0;
}

function renderDeadLetters() {
  const hosts = new Map(state.replicas.map((r) => [r.id, r.host]));
  document.getElementById("dead-letters-panel").hidden = state.deadLetters.length === 0;
  document.getElementById("dead-letters").replaceChildren(...[...state.deadLetters].reverse().map((d) => {
    const li = el("li", { "data-dead-letter-id": d.dead_letter_id, "data-message-id": d.message_id || "" });
    li.append(el("span", {}, "message "));
    // Pub/Sub gives a dead letter a new ID; the original's is known when its rejection was seen here.
    li.append(d.message_id ? el("code", {}, d.message_id) : el("span", { class: "muted" }, "(published before this page's dashboard saw it)"));
    const by = d.replica ? ` given up by ${hosts.get(d.replica) || d.replica}` : "";
    const attempts = d.attempts ? ` after ${d.attempts} attempts` : "";
    li.append(el("span", {}, `${by}${attempts}, now dead letter `), el("code", {}, d.dead_letter_id));
    return li;
  }));
}

function render() {
  renderCounters();
  renderHead();
  renderRows();
  renderDeadLetters();
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws`);
  socket.onopen = () => {
    bump("connects");
    lastFrameAt = Date.now();
    // "live" once the snapshot is drawn: until then every counter would read 0.
    setConnection("connected, waiting for data…", "connecting");
  };
  socket.onmessage = (message) => {
    if (!apply(JSON.parse(message.data))) {
      socket.close();
      return;
    }
    lastFrameAt = Date.now();
    bump("frames");
    if (connection.dataset.state !== "open") setConnection("live", "open");
    scheduleRender();
  };
  socket.onclose = (close) => {
    if (unsupported) return;
    const why = close.code === 1001 ? "server stopped" : `closed (${close.code}${close.reason ? ": " + close.reason : ""})`;
    setConnection(`${why}; reconnecting…`, "closed");
    setTimeout(connect, 2000);
  };
}

setInterval(() => {
  if (connection.dataset.state === "open" && Date.now() - lastFrameAt > STALLED_AFTER_MS) {
    setConnection("stalled: no frame for 3 s", "stalled");
  }
}, 1000);

connect();
