// The /scheduler page: the server's run loop, live, from the WebSocket /scheduler/live.
//
// Rules it keeps:
// - Every text from the network goes in the page as text (textContent), never as HTML:
//   a task's name holds a nickname, and a nickname can be anything.
// - The server sends one JSON snapshot a few times a second while this page is open, and
//   nothing at all (no recording, no task) once the last viewer has gone (docs/web.md).
"use strict";

const MAX_DECISIONS = 400; // lines kept in the strip; older ones scroll away for good
const RETRY_DELAYS_MS = [500, 1000, 2000, 4000];
const STATES = ["ready", "recv_wait", "send_wait", "sleeping", "parked"];

const $ = (id) => document.getElementById(id);
let retries = 0;

function connect() {
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const socket = new WebSocket(scheme + location.host + "/scheduler/live");
  socket.addEventListener("open", () => { retries = 0; setStatus("live"); });
  socket.addEventListener("message", (event) => {
    if (typeof event.data === "string") onMessage(event.data);
  });
  socket.addEventListener("close", (event) => {
    const delay = RETRY_DELAYS_MS[Math.min(retries, RETRY_DELAYS_MS.length - 1)];
    retries += 1;
    if (event.reason && event.reason !== "bye") setStatus(event.reason);
    setTimeout(connect, delay);
  });
}

function onMessage(text) {
  let snapshot;
  try {
    snapshot = JSON.parse(text);
  } catch (error) {
    setStatus(text); // the server's words (a refusal, BYE): shown as they are
    return;
  }
  showStates(snapshot.counts, snapshot);
  showOutboxes(snapshot.outboxes || [], snapshot.outbox_limit || 1);
  showDecisions(snapshot.decisions || [], snapshot.left_out || 0);
  setStatus(`live · up ${Math.round(snapshot.uptime)} s`);
}

function setStatus(text) {
  $("live-status").textContent = text;
}

function showStates(counts, snapshot) {
  const total = Math.max(counts.tasks || 0, 1);
  for (const state of STATES) {
    const row = document.querySelector(`#states li[data-state="${state}"]`);
    const count = counts[state] || 0;
    row.querySelector(".count").textContent = String(count);
    row.querySelector(".bar").style.width = `${(100 * count) / total}%`;
  }
  $("task-total").textContent = String(counts.tasks || 0);
  $("loops-per-second").textContent = String(snapshot.loops_per_second);
  $("viewer-count").textContent = String(snapshot.viewers);
}

function showOutboxes(outboxes, limit) {
  $("outbox-limit").textContent = String(limit);
  const list = $("outboxes");
  const rows = outboxes.map((each) => outboxRow(each, limit));
  list.replaceChildren(...rows);
}

function outboxRow(each, limit) {
  const row = document.createElement("li");
  row.dataset.bytes = String(each.bytes);
  if (each.stalled) row.classList.add("stalled");
  const label = document.createElement("span");
  label.className = "label";
  label.textContent = each.name;
  const track = document.createElement("span");
  track.className = "track";
  const bar = document.createElement("span");
  bar.className = "bar";
  bar.style.width = `${Math.min(100, (100 * each.bytes) / limit)}%`;
  track.append(bar);
  const count = document.createElement("span");
  count.className = "count";
  count.textContent = String(each.bytes);
  row.append(label, track, count);
  return row;
}

function showDecisions(decisions, leftOut) {
  const list = $("decisions");
  const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
  if (leftOut > 0) list.append(gapLine(leftOut));
  for (const [when, verb, who, detail] of decisions) list.append(decisionLine(when, verb, who, detail));
  while (list.childElementCount > MAX_DECISIONS) list.firstElementChild.remove();
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function gapLine(count) {
  const line = document.createElement("li");
  line.className = "gap";
  line.textContent = `… ${count} more decisions, too many to show`;
  return line;
}

function decisionLine(when, verb, who, detail) {
  const line = document.createElement("li");
  const time = document.createElement("span");
  time.textContent = `${Number(when).toFixed(3).padStart(10)}  `;
  const word = document.createElement("span");
  word.className = `verb v-${String(verb).replace(/[^a-z]/g, "")}`;
  word.textContent = verb;
  const task = document.createElement("span");
  task.className = "who";
  task.textContent = who;
  const why = document.createElement("span");
  why.textContent = detail;
  line.append(time, word, task, why);
  return line;
}

connect();
