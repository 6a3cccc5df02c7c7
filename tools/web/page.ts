// The monitoring page (one HTML document, plain script, no build step): it renders the hub's snapshot and applies
// the server-sent changes; EventSource reconnects by itself and each reconnection starts from a fresh snapshot.

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>sota-module: live monitoring</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  :root { --ok: #1e8449; --bad: #c0392b; --warn: #d68910; --muted: #777; --line: #ddd; }
  * { box-sizing: border-box; }
  body { font: 13px/1.4 system-ui, "DejaVu Sans", Arial, sans-serif; margin: 0; color: #222; background: #f6f7f9; }
  header { background: #1f2d3d; color: #fff; padding: 10px 16px; display: flex; gap: 18px; align-items: center; flex-wrap: wrap; }
  header h1 { font-size: 16px; margin: 0 12px 0 0; }
  .badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; background: #566573; color: #fff; }
  .badge.online, .badge.ok, .badge.live { background: var(--ok); }
  .badge.connecting, .badge.reconnecting { background: var(--warn); }
  .badge.offline, .badge.bad { background: var(--bad); }
  main { display: grid; grid-template-columns: minmax(0, 1.15fr) minmax(0, 1fr); gap: 12px; padding: 12px; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; min-width: 0; }
  section h2 { font-size: 14px; margin: 0 0 8px; }
  .wide { grid-column: 1 / -1; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid #eee; vertical-align: top; }
  th { font-weight: 600; color: #444; background: #fafafa; }
  .muted { color: var(--muted); }
  #final { display: none; margin: 0 12px; padding: 8px 12px; border-radius: 6px; font-weight: 600; }
  #final.ok { display: block; background: #d5f5e3; color: var(--ok); border: 1px solid #82e0aa; }
  #final.bad { display: block; background: #fadbd8; color: var(--bad); border: 1px solid #f1948a; }
  .bar { height: 22px; background: #eaecee; border-radius: 4px; overflow: hidden; position: relative; }
  .bar > div { height: 100%; background: linear-gradient(90deg, #27ae60, #2ecc71); width: 0; transition: width 0.15s; }
  .bar > span { position: absolute; inset: 0; text-align: center; line-height: 22px; font-weight: 600; }
  .figures { display: flex; gap: 18px; margin-top: 6px; flex-wrap: wrap; }
  .ota { border: 1px solid #eee; border-radius: 4px; margin: 6px 0; padding: 6px; }
  .ota h3 { font-size: 13px; margin: 0 0 4px; }
  .phase-update-complete td:first-child { color: var(--ok); font-weight: 600; }
  .phase-update-failed td:first-child, .phase-download-failed td:first-child, .phase-refused td:first-child { color: var(--bad); font-weight: 600; }
  #log { height: 360px; overflow: auto; font: 12px/1.35 ui-monospace, "DejaVu Sans Mono", monospace; background: #fbfbfb; border: 1px solid #eee; padding: 4px; }
  #log div { white-space: pre-wrap; word-break: break-all; }
  #log .t { color: var(--muted); }
  #log .cmd { color: #1a5276; } #log .reply { color: #555; } #log .urc { color: #7d3c98; }
  #log .reads { color: var(--ok); } #log .note { color: #7e5109; } #log .fault { color: var(--bad); font-weight: 600; }
  .filters { display: flex; gap: 10px; flex-wrap: wrap; align-items: center; margin-bottom: 6px; }
  #timeline { width: 100%; height: auto; border: 1px solid #eee; background: #fff; }
  button { font: inherit; padding: 2px 10px; }
  #plan-message.ok { color: var(--ok); } #plan-message.bad { color: var(--bad); font-weight: 600; }
</style>
</head>
<body>
<header>
  <h1>sota-module</h1>
  <span>device <b id="device-id">?</b></span>
  <span>link <span id="link" class="badge">offline</span></span>
  <span>module OTA <b id="module-ota">idle</b></span>
  <span>reboots <b id="reboots">0</b></span>
  <span>module time <b id="module-time">0.0 s</b></span>
  <span>page <span id="stream" class="badge reconnecting">connecting</span></span>
</header>
<p id="final" role="status"></p>
<main>
  <section>
    <h2>Download progress</h2>
    <div class="bar"><div id="bar"></div><span id="bar-text">no download yet</span></div>
    <div class="figures">
      <span>bytes <b id="bytes">0 / 0</b></span>
      <span>rate <b id="rate">-</b></span>
      <span>ETA <b id="eta">-</b></span>
      <span>reads <b id="reads">0</b></span>
    </div>
    <div id="progress" data-percent="0" data-bytes="0" data-total="0" data-active="false" hidden></div>
  </section>
  <section>
    <h2>Plans served <button id="reload" type="button">reload plan</button> <span id="plan-message"></span></h2>
    <table><thead><tr><th>component</th><th>type</th><th>target</th><th>package</th><th>size</th><th>min battery / signal</th></tr></thead>
    <tbody id="plans"></tbody></table>
  </section>
  <section class="wide">
    <h2>Device connections and their OTAs</h2>
    <div id="connections" class="muted">no device yet</div>
  </section>
  <section>
    <h2>AT exchange</h2>
    <div class="filters">
      <label><input type="checkbox" data-kind="cmd" checked> commands</label>
      <label><input type="checkbox" data-kind="reply" checked> replies</label>
      <label><input type="checkbox" data-kind="urc" checked> URCs</label>
      <label><input type="checkbox" data-kind="reads" checked> reads</label>
      <label><input type="checkbox" data-kind="note" checked> notes</label>
      <label><input type="checkbox" data-kind="fault" checked> faults</label>
      <input id="filter" type="search" placeholder="filter text" size="16">
      <span class="muted" id="log-count"></span>
    </div>
    <div id="log"></div>
  </section>
  <section>
    <h2>Faults</h2>
    <div>armed: <span id="armed" class="muted">none</span></div>
    <table><thead><tr><th>time</th><th>injected</th></tr></thead><tbody id="faults"></tbody></table>
  </section>
  <section class="wide">
    <h2>Timeline</h2>
    <img id="timeline" alt="timeline of the run" src="timeline.svg">
  </section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const state = { log: [], otas: [], connections: [], lastTimeline: 0 };
const fmtT = (ms) => (ms / 1000).toFixed(3) + " s";
function fmtBytes(n) {
  if (n < 1024) return n + " B";
  if (n < 1048576) return (n / 1024).toFixed(1) + " KiB";
  return (n / 1048576).toFixed(2) + " MiB";
}
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}
function setModule(m) {
  $("device-id").textContent = m.deviceId || "?";
  $("link").textContent = m.link;
  $("link").className = "badge " + m.link;
  $("module-ota").textContent = m.ota;
  $("reboots").textContent = m.reboots;
  $("module-time").textContent = (m.now / 1000).toFixed(1) + " s";
}
function setPlans(plans, message) {
  const body = $("plans");
  body.replaceChildren(...plans.map((p) => el("tr", {},
    el("td", {}, p.id), el("td", {}, p.type + (p.sourceVersion ? " from " + p.sourceVersion : "")),
    el("td", {}, p.targetVersion), el("td", {}, p.package), el("td", {}, fmtBytes(p.size)),
    el("td", {}, p.minBattery + " % / " + p.minSignal + " dBm"))));
  const msg = $("plan-message");
  msg.textContent = message ? message.text : "";
  msg.className = message ? (message.ok ? "ok" : "bad") : "";
}
function setProgress(p) {
  const box = $("progress");
  if (!p) return;
  $("bar").style.width = p.percent + "%";
  $("bar-text").textContent = p.component + ": " + p.percent + " %" + (p.active ? "" : p.bytes >= p.total && p.total > 0 ? " (all read)" : " (paused)");
  $("bytes").textContent = fmtBytes(p.bytes) + " / " + fmtBytes(p.total);
  $("rate").textContent = p.bytesPerSecond > 0 ? fmtBytes(p.bytesPerSecond) + "/s" : "-";
  $("eta").textContent = p.etaSeconds === null || !p.active ? "-" : p.etaSeconds.toFixed(1) + " s";
  $("reads").textContent = p.reads;
  box.dataset.percent = p.percent; box.dataset.bytes = p.bytes; box.dataset.total = p.total; box.dataset.active = p.active;
  if (p.active && Date.now() - state.lastTimeline > 2000) refreshTimeline();
}
function renderConnections() {
  const root = $("connections");
  if (state.connections.length === 0 && state.otas.length === 0) { root.textContent = "no device yet"; root.className = "muted"; return; }
  root.className = "";
  const nodes = [];
  for (const c of [...state.connections].reverse()) {
    const otas = state.otas.filter((o) => o.connection === c.id);
    const head = "connection " + c.id + ": from " + fmtT(c.start) + (c.end !== undefined ? " to " + fmtT(c.end) + " (" + c.endReason + ")" : " (open)") + ", " + c.commands + " commands";
    const box = el("div", { class: "connection", "data-connection": c.id }, el("div", { class: c.end !== undefined ? "muted" : "" }, head));
    for (const o of otas) box.append(renderOta(o));
    nodes.push(box);
  }
  root.replaceChildren(...nodes);
}
function renderOta(o) {
  const rows = o.phases.map((ph, i) => el("tr", { class: "phase phase-" + ph.name.replace(/ /g, "-"), "data-phase": ph.name },
    el("td", {}, ph.name), el("td", {}, fmtT(ph.t)),
    el("td", {}, i > 0 ? "+" + ((ph.t - o.phases[i - 1].t) / 1000).toFixed(1) + " s" : ""),
    el("td", {}, ph.percent + " %"), el("td", { class: "muted" }, ph.detail)));
  const cls = o.status === "update complete" ? "ok" : /failed|refused/.test(o.status) ? "bad" : "";
  return el("div", { class: "ota", "data-ota": o.id, "data-status": o.status },
    el("h3", {}, "OTA " + o.id + ": " + o.device + " / " + o.component + " \\u2192 " + o.targetVersion + " ", el("span", { class: "badge " + cls }, o.status + (o.status === "downloading" ? " " + o.percent + " %" : ""))),
    el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "phase"), el("th", {}, "time"), el("th", {}, "after"), el("th", {}, "progress"), el("th", {}, "detail"))), el("tbody", {}, ...rows)));
}
function setOta(o) {
  const i = state.otas.findIndex((x) => x.id === o.id);
  if (i >= 0) state.otas[i] = o; else state.otas.push(o);
  renderConnections();
}
function logVisible(entry) {
  const box = document.querySelector('.filters input[data-kind="' + entry.kind + '"]');
  if (box && !box.checked) return false;
  const q = $("filter").value.trim().toLowerCase();
  return !q || entry.text.toLowerCase().includes(q);
}
function logLine(entry) {
  return el("div", { class: entry.kind, "data-id": entry.id }, el("span", { class: "t" }, fmtT(entry.t).padStart(11) + " "), entry.kind.padEnd(6) + " " + entry.text);
}
function renderLog() {
  const box = $("log");
  const shown = state.log.filter(logVisible);
  box.replaceChildren(...shown.slice(-1500).map(logLine));
  $("log-count").textContent = shown.length + " / " + state.log.length + " lines";
  box.scrollTop = box.scrollHeight;
}
function addLog(msg) {
  const box = $("log");
  const atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 30;
  const entry = msg.entry;
  const i = msg.update ? state.log.findIndex((x) => x.id === entry.id) : -1;
  if (i >= 0) state.log[i] = entry; else state.log.push(entry);
  if (state.log.length > 4000) state.log.splice(0, state.log.length - 4000);
  const old = box.querySelector('[data-id="' + entry.id + '"]');
  if (logVisible(entry)) {
    if (old) old.replaceWith(logLine(entry)); else box.append(logLine(entry));
    while (box.childElementCount > 1500) box.firstElementChild.remove();
  } else if (old) old.remove();
  $("log-count").textContent = state.log.length + " lines";
  if (atEnd) box.scrollTop = box.scrollHeight;
}
function addFault(f) {
  $("faults").append(el("tr", {}, el("td", {}, fmtT(f.t)), el("td", {}, f.text)));
}
function setArmed(list) {
  $("armed").textContent = list.length ? list.join("; ") : "none";
}
function setFinal(f) {
  const box = $("final");
  if (!f) { box.className = ""; box.textContent = ""; return; }
  box.className = f.ok ? "ok" : "bad";
  box.dataset.t = f.t;
  box.textContent = "final event at " + fmtT(f.t) + ": " + f.text;
  refreshTimeline();
}
function refreshTimeline() {
  state.lastTimeline = Date.now();
  $("timeline").src = "timeline.svg?t=" + state.lastTimeline;
}
function snapshot(s) {
  setModule(s.module);
  setPlans(s.plans, s.planMessage);
  state.connections = s.connections; state.otas = s.otas; renderConnections();
  setProgress(s.progress);
  setArmed(s.armedFaults);
  $("faults").replaceChildren(); s.faults.forEach(addFault);
  state.log = s.log.slice(); renderLog();
  setFinal(s.final);
}
let timelineTimer = 0;
function connect() {
  const source = new EventSource("events");
  source.addEventListener("open", () => { $("stream").textContent = "live"; $("stream").className = "badge live"; });
  source.addEventListener("error", () => { $("stream").textContent = "reconnecting"; $("stream").className = "badge reconnecting"; });
  const on = (name, fn) => source.addEventListener(name, (e) => fn(JSON.parse(e.data)));
  on("snapshot", snapshot);
  on("module", setModule);
  on("plans", (d) => setPlans(d.plans, d.message));
  on("connections", (c) => { state.connections = c; renderConnections(); });
  on("ota", setOta);
  on("progress", setProgress);
  on("log", addLog);
  on("fault", (d) => { if (d.armed) setArmed(d.armed); if (d.injected) addFault(d.injected); });
  on("final", setFinal);
  on("timeline", () => { clearTimeout(timelineTimer); timelineTimer = setTimeout(refreshTimeline, 500); });
}
document.querySelectorAll(".filters input").forEach((i) => i.addEventListener("input", renderLog));
$("reload").addEventListener("click", async () => {
  const msg = $("plan-message");
  msg.textContent = "reloading..."; msg.className = "";
  try {
    const r = await fetch("api/reload-plan", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
    const body = await r.json();
    msg.textContent = body.message; msg.className = body.ok ? "ok" : "bad";
  } catch (e) { msg.textContent = "reload failed: " + e.message; msg.className = "bad"; }
});
connect();
</script>
</body>
</html>
`;
