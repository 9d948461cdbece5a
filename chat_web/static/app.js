// lanchat web client: the chat's version 2 line protocol over a WebSocket.
//
// Rules it keeps:
// - Every text that comes from the network is put in the page as text (textContent),
//   never as HTML: a nickname or message like <img onerror=...> shows as those characters.
// - One line per WebSocket message, both ways (see docs/web.md).
// - Room events carry ids: the page keeps each room's lines in id order and drops an id
//   it already has, so the replay on join and the catch-up after a reconnect
//   (/history ROOM after LAST-ID) can overlap without showing a line twice.
"use strict";

const MAX_LINES_PER_ROOM = 2000;
const CATCH_UP_COUNT = 500; // the most /history hands back at once
const OLDER_COUNT = 50; // lines fetched each time the reader scrolls to the top
const RETRY_DELAYS_MS = [250, 500, 1000, 2000, 4000];
const NICK_COLOURS = 10; // .c0 ... .c9 in style.css
const STORAGE_KEY = "lanchat";
const ROOM_EVENT_FIELDS = { // after KIND ROOM ID TIME: the fields, the last takes the rest
  JOIN: ["nick"], PART: ["nick", "text"], NICK: ["nick", "text"], MSG: ["nick", "text"],
  ACTION: ["nick", "text"], TOPIC: ["nick", "text"], NOTICE: ["nick", "text"],
};

const $ = (id) => document.getElementById(id);

const state = {
  socket: null,
  nick: null, // our nickname once the server said WELCOME
  wantedNick: "",
  password: "",
  quitting: false, // the user typed /quit: do not reconnect
  retries: 0,
  everJoined: false, // joined at least once: a reconnect catches up
  rooms: new Map(), // name -> room (see newRoom)
  viewing: null, // the room on screen (follows the server's CURRENT)
  replay: null, // {room, left} while a HISTORY block is arriving
  roomsToRestore: [], // rooms to join again after a reload or reconnect
};

// Starting

function start() {
  $("login-form").addEventListener("submit", onLoginSubmit);
  $("say-form").addEventListener("submit", onSaySubmit);
  $("messages").addEventListener("scroll", onMessagesScrolled);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) markRead(); });
  const saved = loadSaved();
  if (saved.nick) { // a reload: join again as before
    $("nick-input").value = saved.nick;
    state.roomsToRestore = saved.rooms || [];
    join(saved.nick, "");
  }
}

function onLoginSubmit(event) {
  event.preventDefault();
  join($("nick-input").value.trim(), $("password-input").value);
}

function join(nick, password) {
  if (!nick) return;
  state.wantedNick = nick;
  state.password = password;
  state.quitting = false;
  $("login-error").textContent = "";
  connect();
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const socket = new WebSocket(scheme + location.host + "/chat");
  state.socket = socket;
  socket.addEventListener("open", () => {
    setStatus("");
    send("/hello web 2");
    if (state.password) send("/pass " + state.password);
    send("/nick " + state.wantedNick);
  });
  socket.addEventListener("message", (event) => {
    if (typeof event.data === "string") onLine(event.data);
  });
  socket.addEventListener("close", () => onClosed(socket));
}

function onClosed(socket) {
  if (state.socket !== socket) return;
  state.socket = null;
  state.nick = null;
  state.replay = null;
  if (state.quitting) { // by /quit, or a refused nickname whose reason is on screen
    if (!$("chat").hidden) showLogin("");
    return;
  }
  const delay = RETRY_DELAYS_MS[Math.min(state.retries, RETRY_DELAYS_MS.length - 1)];
  state.retries += 1;
  setStatus("Disconnected; reconnecting…");
  setTimeout(connect, delay);
}

function send(line) {
  if (state.socket && state.socket.readyState === WebSocket.OPEN) {
    state.socket.send(line);
    return true;
  }
  return false;
}

// Reading the server's lines

function onLine(line) {
  const [kind, rest] = splitFields(line, 2);
  if (kind in ROOM_EVENT_FIELDS) { onRoomEvent(kind, rest); return; }
  const handler = HANDLERS[kind];
  if (handler) handler(rest || "");
  else addNote("info", line);
}

const HANDLERS = {
  HELLO: () => {},
  WELCOME: onWelcome,
  HISTORY: (rest) => {
    const [room, count] = splitFields(rest, 2);
    const left = parseInt(count, 10) || 0;
    const target = roomNamed(room);
    state.replay = left > 0 ? { room, left } : null;
    if (target.loadingOlder && left === 0) { target.noOlder = true; olderLoaded(target); }
  },
  USERS: (rest) => {
    const [room, ...nicks] = rest.split(" ");
    roomNamed(room).users = nicks.filter(Boolean);
    if (room === state.viewing) renderHeader();
  },
  CURRENT: (room) => { roomNamed(room); view(room); },
  PRIVMSG: (rest) => {
    const [from, to, text] = splitFields(rest, 3);
    const line = addNote("private", `${from} → ${to}: ${text}`);
    if (from !== state.nick && line) countUnread(state.viewing, true);
  },
  INFO: (text) => addNote("info", text),
  ERROR: onError,
  BYE: (reason) => addNote("info", `The server closed the connection: ${reason}`),
  PONG: (token) => addNote("info", `PONG ${token}`),
};

function onWelcome(nick) {
  const reconnecting = state.everJoined;
  state.nick = nick;
  state.everJoined = true;
  state.retries = 0;
  save();
  setStatus("");
  $("login").hidden = true;
  $("chat").hidden = false;
  // The last id seen in each room, taken before the replays on join raise them.
  const catchUp = [...state.rooms.values()].map((room) => [room.name, room.lastId]);
  const viewing = state.viewing;
  for (const name of state.roomsToRestore) send("/join " + name);
  for (const [name, lastId] of catchUp) {
    send("/join " + name);
    if (reconnecting && lastId > 0) send(`/history ${name} after ${lastId} ${CATCH_UP_COUNT}`);
  }
  if (viewing) send("/join " + viewing);
  state.roomsToRestore = [];
  $("say-input").focus();
}

function onError(rest) {
  const [code, text] = splitFields(rest, 2);
  const automatic = state.everJoined || state.roomsToRestore.length > 0;
  if (state.nick === null && code === "NICK_IN_USE" && automatic
      && state.retries < RETRY_DELAYS_MS.length) {
    // Joining again by ourselves: our old connection may not be gone yet. Try later.
    if (state.socket) state.socket.close();
    return;
  }
  if (state.nick === null) { // not joined: the nickname or the password was refused
    if (state.socket) { state.quitting = true; state.socket.close(); }
    showLogin(text || code);
    return;
  }
  addNote("error", text || code);
}

function onRoomEvent(kind, rest) {
  const [room, id, time, fieldsText] = splitFields(rest, 4);
  const fields = splitFields(fieldsText || "", ROOM_EVENT_FIELDS[kind].length);
  const event = { kind, room, id: parseInt(id, 10), time: parseInt(time, 10),
                  nick: fields[0] || "", text: fields[1] || "" };
  const replayed = state.replay !== null && state.replay.room === room;
  const lastOfReplay = replayed && --state.replay.left <= 0;
  if (lastOfReplay) state.replay = null;
  const target = roomNamed(room);
  if (!replayed) applyToRoom(target, event);
  else if (kind === "TOPIC" && event.id >= target.lastId) { // the latest topic we know
    target.topic = event.text;
    if (room === state.viewing) renderHeader();
  }
  const fresh = !target.seen.has(event.id); // a replay may overlap what we have
  if (fresh) {
    target.seen.add(event.id);
    target.lastId = Math.max(target.lastId, event.id);
    insertInOrder(target, renderRoomEvent(event, replayed), event.id);
  }
  if (lastOfReplay && target.loadingOlder) olderLoaded(target);
  if (replayed || !fresh) return;
  if ((kind === "MSG" || kind === "ACTION") && event.nick !== state.nick) {
    countUnread(room, mentionsMe(event.text));
  }
}

// Older lines, fetched when the reader scrolls to the top of a room

function onMessagesScrolled() {
  const list = $("messages");
  const room = state.rooms.get(state.viewing);
  if (list.scrollTop > 20 || !room || room.loadingOlder || room.noOlder) return;
  const oldest = room.seen.size ? Math.min(...room.seen) : 0;
  if (oldest <= 1) { room.noOlder = oldest === 1; return; } // nothing before id 1
  room.loadingOlder = true;
  room.heightBefore = list.scrollHeight;
  send(`/history ${room.name} before ${oldest} ${OLDER_COUNT}`);
}

function olderLoaded(room) {
  room.loadingOlder = false;
  if (room.name !== state.viewing) return;
  const list = $("messages"); // keep the line the reader was at where it was
  list.scrollTop += list.scrollHeight - room.heightBefore;
}

function applyToRoom(room, event) {
  // What a live event changes besides the scrollback: topic, people, our rooms.
  if (event.kind === "TOPIC") room.topic = event.text;
  if (event.kind === "JOIN" && !room.users.includes(event.nick)) room.users.push(event.nick);
  if (event.kind === "PART") {
    room.users = room.users.filter((nick) => nick.replace(/^@/, "") !== event.nick);
    if (event.nick === state.nick) forgetRoom(room.name);
  }
  if (event.kind === "NICK") {
    room.users = room.users.map((nick) => (nick === event.nick ? event.text : nick));
    if (event.nick === state.nick) { state.nick = event.text; save(); }
  }
  if (room.name === state.viewing) renderHeader();
}

// Rooms

function newRoom(name) {
  return { name, topic: "", users: [], items: [], seen: new Set(), lastId: 0,
           unread: 0, mentions: 0, loadingOlder: false, noOlder: false, heightBefore: 0 };
}

function roomNamed(name) {
  if (!state.rooms.has(name)) {
    state.rooms.set(name, newRoom(name));
    renderRoomList();
    save();
  }
  return state.rooms.get(name);
}

function forgetRoom(name) {
  state.rooms.delete(name);
  if (state.viewing === name) state.viewing = null;
  save();
  renderRoomList();
  renderMessages();
}

function view(name) {
  state.viewing = name;
  markRead();
  renderRoomList();
  renderHeader();
  renderMessages();
}

function onRoomClicked(name) {
  view(name);
  send("/join " + name); // makes it the server's current room too: text goes there
}

function countUnread(name, mention) {
  const room = state.rooms.get(name);
  if (!room || (name === state.viewing && !document.hidden)) return;
  room.unread += 1;
  if (mention) room.mentions += 1;
  renderRoomList();
}

function markRead() {
  const room = state.rooms.get(state.viewing);
  if (room && !document.hidden) { room.unread = 0; room.mentions = 0; }
  renderRoomList();
}

function mentionsMe(text) {
  if (!state.nick) return false;
  const nick = state.nick.toLowerCase();
  return text.toLowerCase().split(/[^\p{L}\p{N}_-]+/u).includes(nick);
}

// Drawing (text only: textContent everywhere)

function renderRoomList() {
  const list = $("room-list");
  list.replaceChildren();
  let mentions = 0;
  for (const room of state.rooms.values()) {
    mentions += room.mentions;
    const item = element("li", room.name === state.viewing ? "active" : "");
    item.append(element("span", "room-name", room.name));
    if (room.unread > 0) {
      item.append(element("span", room.mentions ? "unread mention" : "unread",
                          String(room.unread)));
    }
    item.addEventListener("click", () => onRoomClicked(room.name));
    list.append(item);
  }
  document.title = mentions > 0 ? `(${mentions}) lanchat` : "lanchat";
}

function renderHeader() {
  const room = state.rooms.get(state.viewing);
  $("room-name").textContent = room ? room.name : "";
  $("room-topic").textContent = room && room.topic ? room.topic : "";
  const users = room ? room.users : [];
  $("room-users").textContent = users.length
    ? `${users.length} here: ${users.join(", ")}` : "";
}

function renderMessages() {
  const room = state.rooms.get(state.viewing);
  const list = $("messages");
  list.replaceChildren(...(room ? room.items : []));
  list.scrollTop = list.scrollHeight;
}

function renderRoomEvent(event, replayed) {
  const item = element("li", replayed ? "history" : "");
  item.append(element("time", "time", formatTime(event.time)));
  const { kind, nick, text } = event;
  if (kind === "MSG") {
    item.append(element("span", `nick ${nickColour(nick)}`, nick), text);
    if (nick !== state.nick && mentionsMe(text)) item.classList.add("mention");
  } else if (kind === "ACTION") {
    item.classList.add("action");
    item.append(element("span", `nick ${nickColour(nick)}`, `* ${nick}`), text);
  } else {
    item.append(element("span", "event", describe(event)));
  }
  return item;
}

function describe({ kind, nick, text, room }) {
  switch (kind) {
    case "JOIN": return `${nick} joined ${room}`;
    case "PART": return `${nick} left ${room} (${text})`;
    case "NICK": return `${nick} is now ${text}`;
    case "TOPIC": return `${nick} set the topic: ${text}`;
    default: return `${nick} ${text}`; // NOTICE: an operator's action
  }
}

function addNote(style, text) {
  const room = state.rooms.get(state.viewing);
  const item = element("li", style);
  item.append(element("time", "time", formatTime(Date.now())), text);
  if (!room) { if (state.nick) setStatus(text); return null; }
  insertInOrder(room, item, room.lastId + 0.5);
  return item;
}

function insertInOrder(room, item, key) {
  item.dataset.key = String(key);
  const items = room.items;
  let at = items.length;
  while (at > 0 && Number(items[at - 1].dataset.key) > key) at -= 1;
  items.splice(at, 0, item);
  if (items.length > MAX_LINES_PER_ROOM) items.shift().remove();
  if (room.name !== state.viewing) return;
  const list = $("messages");
  const stuck = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  if (at + 1 < items.length) list.insertBefore(item, items[at + 1]);
  else list.append(item);
  if (stuck) list.scrollTop = list.scrollHeight;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function nickColour(nick) {
  let hash = 0;
  for (const char of nick.replace(/^@/, "")) hash = (hash * 31 + char.codePointAt(0)) >>> 0;
  return "c" + (hash % NICK_COLOURS);
}

function formatTime(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function setStatus(text) { $("status").textContent = text; }

function showLogin(message) {
  $("chat").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message;
  state.rooms.clear();
  state.viewing = null;
  state.everJoined = false;
  localStorage.removeItem(STORAGE_KEY);
}

// Typing

function onSaySubmit(event) {
  event.preventDefault();
  const input = $("say-input");
  const line = input.value;
  if (!line.trim()) return;
  if (/^\/quit\b/i.test(line)) state.quitting = true;
  if (send(line)) input.value = "";
  else setStatus("Not connected yet: your line is still in the box.");
}

// Remembering who we are across a reload (the server keeps the history)

function save() {
  if (!state.nick) return;
  const rooms = [...state.rooms.keys()];
  localStorage.setItem(STORAGE_KEY, JSON.stringify({ nick: state.nick, rooms }));
}

function loadSaved() {
  try {
    return JSON.parse(localStorage.getItem(STORAGE_KEY) || "{}") || {};
  } catch (error) {
    return {};
  }
}

// "a b c d" split into at most `count` fields, the last one taking the rest.
function splitFields(text, count) {
  const parts = [];
  let rest = text;
  while (parts.length < count - 1) {
    const space = rest.indexOf(" ");
    if (space < 0) break;
    parts.push(rest.slice(0, space));
    rest = rest.slice(space + 1);
  }
  parts.push(rest);
  return parts;
}

start();
