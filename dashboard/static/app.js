// The live view: a snapshot, then events, over /ws; the grid is redrawn from local state.
"use strict";

const state = { replicas: new Map(), messages: new Map(), history: 50 };
let socket = null;

function setConnection(text, kind) {
  const el = document.getElementById("connection");
  el.textContent = text;
  el.dataset.state = kind;
}

function setCounters(counters) {
  if (!counters) return;
  document.getElementById("count-published").textContent = counters.published;
  document.getElementById("count-acked").textContent = counters.acked;
  document.getElementById("count-rejected").textContent = counters.rejected;
  document.getElementById("count-dead-lettered").textContent = counters.dead_lettered;
}

function putMessage(row) {
  state.messages.delete(row.message_id); // re-insert keeps arrival order of the newest copy
  state.messages.set(row.message_id, row);
  while (state.messages.size > state.history) {
    state.messages.delete(state.messages.keys().next().value);
  }
}

function apply(event) {
  if (event.type === "snapshot") {
    state.replicas = new Map(event.replicas.map((r) => [r.id, r]));
    state.messages = new Map(event.messages.map((m) => [m.message_id, m]));
    state.history = event.history || 50;
  } else if (event.type === "replica") {
    state.replicas.set(event.replica.id, event.replica);
  } else if (event.type === "message") {
    const known = state.messages.get(event.message.message_id);
    if (known) state.messages.set(event.message.message_id, event.message);
    else putMessage(event.message);
  }
  setCounters(event.counters);
  scheduleRender();
}

// Many events can arrive between two frames (a burst of receipts): draw once per frame.
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

function render() {
  const replicas = [...state.replicas.values()];
  const listening = replicas.filter((r) => r.status !== "left").length;
  document.getElementById("count-replicas").textContent = listening;

  const head = document.getElementById("grid-head");
  head.replaceChildren(el("th", { class: "msg" }, "message"), el("th", { class: "chan" }, "channel"));
  for (const r of replicas) {
    const th = el("th", { class: `replica ${r.status}`, "data-replica-id": r.id, "data-status": r.status,
                          title: r.id });
    // Replicas on one host (or restarted ones) differ by their subscription's suffix.
    th.append(el("span", { class: "dot" }), el("span", { class: "host" }, r.host),
              el("span", { class: "suffix" }, ` ${r.id.slice(-8)}`));
    th.append(el("span", { class: "sub" }, (r.status === "left" ? "left · " : "") + `${r.acked} acked`
      + (r.rejected ? ` · ${r.rejected} rejected` : "")));
    head.append(th);
  }

  const body = document.getElementById("grid-body");
  const rows = [...state.messages.values()].reverse(); // newest first
  body.replaceChildren(...rows.map((m) => {
    const tr = el("tr", { "data-message-id": m.message_id });
    const id = el("td", { class: "msg" });
    id.append(el("code", {}, m.message_id));
    if (m.sequence !== null && m.sequence !== undefined) id.append(el("span", { class: "seq" }, ` #${m.sequence}`));
    tr.append(id, el("td", { class: "chan" }, m.channel || "…"));
    for (const r of replicas) {
      const outcome = m.handled[r.id] || (r.status === "left" ? "gone" : "pending");
      const td = el("td", { class: `cell ${outcome} ${r.status}`, "data-replica": r.id, "data-outcome": outcome });
      tr.append(td);
    }
    return tr;
  }));
  document.getElementById("empty").hidden = rows.length > 0;
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/ws`);
  socket.onopen = () => setConnection("live", "open");
  socket.onmessage = (message) => apply(JSON.parse(message.data));
  socket.onclose = (close) => {
    const why = close.code === 1001 ? "server stopped" : `closed (${close.code}${close.reason ? ": " + close.reason : ""})`;
    setConnection(`${why}; reconnecting…`, "closed");
    setTimeout(connect, 2000);
  };
}

connect();
