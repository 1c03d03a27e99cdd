/* fc-emulator dashboard: plain JavaScript, no framework, no build step.
 *
 * Data: GET /_emulator/dashboard (resources, instances, async queue of one account) and
 * GET /_emulator/invocations (records; `after=<seq>` for what is new), polled while the tab is visible.
 * Actions: FC's InvokeFunction (2016-08-15 for FC 2.0 functions, 2023-03-30 for FC 3.0 ones),
 * POST /_emulator/services/{s}/functions/{f}/triggers/{t}/fire, POST /_emulator/events/{source}.
 * With an access key every request is signed with FC's scheme (sign.js).
 */
"use strict";

const $ = (id) => document.getElementById(id);
const POLL_MS = 1500;
const RECORDS_KEPT = 200;
const TAIL_CHARS = 200000;
const KEY_STORE = "fc-emulator-dashboard-key";
const ACCOUNT_STORE = "fc-emulator-dashboard-account";

const state = {
  auth: null, key: loadKey(), snapshot: null, selected: parseHash(), records: [], lastSeq: null,
  recordShown: null, busy: false, needKey: false,
};

const EVENT_EXAMPLES = {
  oss: { bucket: "my-bucket", key: "photos/cat.png", eventName: "ObjectCreated:PutObject", size: 1024 },
  log: { project: "my-project", logstore: "my-logstore" },
  mns_topic: { topic: "my-topic", message: "hello" },
  tablestore: { instance: "my-instance", table: "my-table", primaryKey: { id: 1 }, columns: { name: "a" } },
  cdn_events: { eventName: "CachedObjectsRefreshed", domain: "example.com" },
  eventbridge: { source: "my.source", type: "my.type", data: { hello: "world" } },
  rds: { instance: "my-instance", database: "db", table: "t", operation: "INSERT", after: { id: 1 } },
};

// ---- requests --------------------------------------------------------------------------------------

function loadKey() {
  try { return JSON.parse(sessionStorage.getItem(KEY_STORE) || "null"); } catch (e) { return null; }
}

class ApiError extends Error {
  constructor(status, body) {
    super(`${status} ${body.ErrorCode || body.Code || ""}: ${body.ErrorMessage || body.Message || JSON.stringify(body)}`);
    this.status = status;
    this.code = body.ErrorCode || body.Code || "";
  }
}

/* A request to the emulator; `path` is unencoded (FC signs the decoded path), each segment is encoded here. */
async function api(method, path, { query = null, body = undefined, contentType = "application/json", headers = {} } = {}) {
  const h = { ...headers };
  const account = $("account").value.trim();
  if (account) h["X-Fc-Account-Id"] = account;
  if (body !== undefined) h["Content-Type"] = contentType;
  if (state.key) await signFC(method, path, h, state.key);
  const url = path.split("/").map(encodeURIComponent).join("/") + (query ? "?" + new URLSearchParams(query) : "");
  return fetch(url, { method, headers: h, body, cache: "no-store" });
}

async function apiJson(method, path, options) {
  const r = await api(method, path, options);
  const text = await r.text();
  let body;
  try { body = text ? JSON.parse(text) : {}; } catch (e) { body = { Message: text }; }
  if (!r.ok) {
    const err = new ApiError(r.status, body);
    if (r.status === 403 && state.auth === "strict") askForKey(err.message);
    throw err;
  }
  return body;
}

// ---- DOM helpers -----------------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function fill(node, ...children) { node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined)); }

function showError(message) {
  const box = $("error");
  box.hidden = !message;
  box.textContent = message || "";
}

function ago(seconds) {
  seconds = Math.max(0, Math.round(seconds));
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
  return `${Math.floor(seconds / 86400)} d ${Math.floor((seconds % 86400) / 3600)} h`;
}

function clock(iso) {
  const d = new Date(iso);
  return d.toLocaleTimeString([], { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
}

function decodeBase64(b64) {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

// ---- the function list -----------------------------------------------------------------------------

/* A function the page can act on: FC 2.0 (service, function) or FC 3.0 function F (engine service fc3:F). */
function functionsOf(snapshot) {
  const out = [];
  for (const svc of snapshot.services) {
    for (const fn of svc.functions) {
      out.push({ id: `fc2:${svc.serviceName}/${fn.functionName}`, fc3: false, service: svc.serviceName,
        engineService: svc.serviceName, name: fn.functionName, qualifiers: svc.qualifiers, fn, svc });
    }
  }
  for (const fn of snapshot.fc3Functions) {
    out.push({ id: `fc3:${fn.functionName}`, fc3: true, service: null, engineService: fn.engineService,
      name: fn.functionName, qualifiers: fn.qualifiers, fn, svc: null });
  }
  return out;
}

function parseHash() {
  const m = location.hash.match(/^#(fc[23]:.+)$/);
  return m ? decodeURIComponent(m[1]) : null;
}

function select(id) {
  if (id !== state.selected) {  // the last call's answer belongs to the function it was made on
    $("invoke-result").hidden = true;
    $("invoke-status").textContent = "";
    $("fire-result").textContent = "";
  }
  state.selected = id;
  history.replaceState(null, "", "#" + encodeURIComponent(id));
  render();
  renderRecords();
}

function renderTree() {
  const snap = state.snapshot;
  const fnLink = (f) => el("li", {}, el("a", {
    href: "#" + encodeURIComponent(f.id), class: f.id === state.selected ? "selected" : null, "data-function": f.id,
    onclick: (e) => { e.preventDefault(); select(f.id); },
  }, el("span", {}, f.name), el("span", { class: "meta" },
    [f.fn.runtime || "", f.fn.instances.length ? ` · ${f.fn.instances.length} inst` : "",
      f.fn.triggers.length ? ` · ${f.fn.triggers.length} trg` : ""].join(""))));
  const groups = snap.services.map((svc) => el("div", { class: "group", "data-service": svc.serviceName },
    el("div", { class: "group-title" }, el("span", {}, svc.serviceName), el("span", { class: "muted" }, "FC 2.0 service")),
    el("ul", {}, functionsOf({ services: [svc], fc3Functions: [] }).map(fnLink)),
    svc.functions.length ? null : el("p", { class: "muted" }, "no functions")));
  if (snap.fc3Functions.length) {
    groups.push(el("div", { class: "group", "data-service": "fc3" },
      el("div", { class: "group-title" }, el("span", {}, "FC 3.0 functions")),
      el("ul", {}, functionsOf({ services: [], fc3Functions: snap.fc3Functions }).map(fnLink))));
  }
  if (!groups.length) groups.push(el("p", { class: "muted" }, "No services or functions in this account yet."));
  fill($("services"), groups);
}

const CONFIG_FIELDS = ["runtime", "handler", "memorySize", "cpu", "diskSize", "timeout", "instanceConcurrency",
  "initializer", "initializationTimeout", "codeSize", "codeChecksum", "environmentVariables", "layers", "customContainerConfig",
  "customRuntimeConfig", "description", "lastModifiedTime"];

function renderFunction() {
  const current = state.snapshot ? functionsOf(state.snapshot).find((f) => f.id === state.selected) : null;
  $("function").hidden = !current;
  $("function-empty").hidden = !!current;
  if (!current) return;
  const { fn } = current;
  fill($("fn-title"), current.fc3 ? [fn.functionName, el("span", { class: "muted" }, "  FC 3.0 function")]
    : [`${current.service} / ${fn.functionName}`, el("span", { class: "muted" }, "  FC 2.0")]);
  fill($("fn-config"), CONFIG_FIELDS.filter((k) => fn.config[k] !== undefined && fn.config[k] !== null && fn.config[k] !== "")
    .map((k) => el("tr", {}, el("th", {}, k), el("td", {},
      typeof fn.config[k] === "object" ? JSON.stringify(fn.config[k]) : String(fn.config[k])))));
  const full = JSON.stringify(current.fc3 ? fn.config : { service: current.svc.config, function: fn.config }, null, 2);
  if ($("fn-json").textContent !== full) $("fn-json").textContent = full;

  const qsel = $("invoke-qualifier");
  const wanted = current.qualifiers.join("\n");
  if (qsel.dataset.options !== wanted || qsel.dataset.fn !== current.id) {
    const keep = qsel.dataset.fn === current.id ? qsel.value : "LATEST";
    fill(qsel, current.qualifiers.map((q) => el("option", { value: q }, q)));
    qsel.value = current.qualifiers.includes(keep) ? keep : "LATEST";
    qsel.dataset.options = wanted;
    qsel.dataset.fn = current.id;
  }

  const now = Date.parse(state.snapshot.timerClock);  // the account's timer clock (virtual after a clock advance)
  const virtual = Math.abs(now - Date.parse(state.snapshot.time)) > 2000;
  $("timer-clock").textContent = virtual ? `virtual timer clock: ${state.snapshot.timerClock.replace("T", " ").replace("Z", " UTC")}` : "";
  fill($("fn-triggers").tBodies[0], fn.triggers.length ? fn.triggers.map((t) => {
    const cfg = t.triggerConfig || {};
    const summary = t.triggerType === "timer" ? `${cfg.cronExpression || ""}${cfg.enable === false ? " (disabled)" : ""}`
      : t.triggerType === "http" ? `${(cfg.methods || []).join(",")} ${cfg.authType || ""}` : JSON.stringify(cfg).slice(0, 120);
    const next = t.nextFire ? `${t.nextFire.replace("T", " ").replace("Z", " UTC")} (in ${ago((Date.parse(t.nextFire) - now) / 1000)})` : "";
    // FC 2.0 HTTP triggers answer under /2016-08-15/proxy/S.Q/F/ on this emulator's address
    const url = t.triggerType === "http" && !current.fc3
      ? `${location.origin}/2016-08-15/proxy/${current.service}.${t.qualifier || "LATEST"}/${current.name}/` : null;
    return el("tr", { "data-trigger": t.triggerName }, el("td", {}, t.triggerName), el("td", {}, t.triggerType),
      el("td", {}, t.qualifier || "LATEST"), el("td", { class: "mono" }, summary,
        url ? [el("br"), el("a", { href: url, target: "_blank", rel: "noopener" }, url)] : null), el("td", { class: "next-fire" }, next),
      el("td", {}, t.triggerType === "timer" ? el("button", { type: "button", class: "fire", onclick: () => fire(current, t) }, "Fire now") : null));
  }) : el("tr", {}, el("td", { colspan: 6, class: "muted" }, "no triggers")));

  fill($("fn-instances").tBodies[0], fn.instances.length ? fn.instances.map((i) => el("tr", { "data-instance": i.instanceId },
    el("td", { class: "mono" }, i.instanceId), el("td", {}, i.versionId), el("td", {}, i.status + (i.provisioned ? " (provisioned)" : "")),
    el("td", {}, i.inflight), el("td", {}, i.served), el("td", {}, i.inflight ? "busy" : ago(i.idleSeconds)),
    el("td", {}, clock(i.createdTime)))) : el("tr", {}, el("td", { colspan: 7, class: "muted" }, "no live instances")));
}

function renderQueue() {
  const q = state.snapshot.queue;
  const rows = [...q.pending, ...q.finished].map((ev) => el("tr", { "data-request-id": ev.requestId },
    el("td", {}, ev.fc3 ? `${ev.functionName} (FC 3.0)` : `${ev.serviceName}/${ev.functionName}`, ev.qualifier !== "LATEST" ? `.${ev.qualifier}` : ""),
    el("td", { class: { Succeeded: "ok", Failed: "bad", Expired: "bad", Running: "warn" }[ev.status] || "" }, ev.status),
    el("td", {}, ev.attempt), el("td", {}, ago(ev.ageSeconds)),
    el("td", {}, ev.nextRunInSeconds === null ? "" : ev.nextRunInSeconds > 0 ? `in ${ago(ev.nextRunInSeconds)}` : "now"),
    el("td", { class: "mono" }, ev.requestId)));
  fill($("queue").tBodies[0], rows.length ? rows : el("tr", {}, el("td", { colspan: 6, class: "muted" }, "the queue is empty")));
}

/* Invocations in progress: their log so far (a record, and the tail above, come when they end). */
function renderRunning() {
  const running = state.snapshot.running || [];
  $("running-box").hidden = !running.length;
  const text = running.map((r) => `── ${r.fc3 ? `${r.functionName} (FC 3.0)` : `${r.serviceName}/${r.functionName}`} `
    + `${r.requestId} running on ${r.instanceId}\n${r.logs.join("\n")}`).join("\n");
  if ($("running").textContent !== text) $("running").textContent = text;
}

function render() {
  if (!state.snapshot) return;
  renderTree();
  renderFunction();
  renderQueue();
  renderRunning();
}

// ---- invocation records and the log tail ----------------------------------------------------------

function recordName(r) {
  return r.serviceName.startsWith("fc3:") ? `${r.functionName} (FC 3.0)` : `${r.serviceName}/${r.functionName}`;
}

function selectedEngine() {
  const f = state.snapshot && functionsOf(state.snapshot).find((x) => x.id === state.selected);
  return f ? [f.engineService, f.name] : null;
}

function renderRecords() {
  const only = $("only-selected").checked ? selectedEngine() : null;
  const rows = state.records.filter((r) => !only || (r.serviceName === only[0] && r.functionName === only[1]));
  fill($("records").tBodies[0], rows.length ? rows.map((r) => el("tr", {
    class: "clickable" + (state.recordShown === r.seq ? " selected" : ""), "data-request-id": r.requestId, "data-seq": r.seq,
    onclick: () => showRecord(r),
  }, el("td", {}, clock(r.startTime)), el("td", {}, recordName(r)), el("td", {}, r.qualifier), el("td", {}, r.kind + (r.attempt > 1 ? ` #${r.attempt}` : "")),
  el("td", { class: r.status === "succeeded" ? "ok status" : "bad status" }, r.status + (r.errorType ? ` (${r.errorType})` : "")),
  el("td", {}, `${r.durationMs.toFixed(1)} ms`), el("td", { class: r.coldStart ? "cold" : "" }, r.coldStart ? "cold" : "warm"),
  el("td", { class: "mono" }, (r.instanceId || "").slice(0, 20)), el("td", { class: "mono" }, r.requestId)))
    : el("tr", {}, el("td", { colspan: 9, class: "muted" }, "no invocations yet")));
}

function showRecord(r) {
  state.recordShown = r.seq;
  $("record").hidden = false;
  $("record-title").textContent = `${recordName(r)} · ${r.requestId}`;
  const fields = [["status", r.status + (r.errorType ? ` (${r.errorType})` : "")], ["error", r.errorMessage],
    ["start", r.startTime], ["duration", `${r.durationMs} ms`], ["cold start", r.coldStart ? "yes" : "no"],
    ["qualifier / version", `${r.qualifier} / ${r.versionId}`], ["kind / attempt", `${r.kind} / ${r.attempt}`],
    ["instance", r.instanceId], ["payload", `${r.payloadSize} bytes${r.payloadTruncated ? " (first 4 KB shown)" : ""}: ${r.payloadPreview}`]];
  fill($("record-kv"), fields.filter(([, v]) => v).map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v))));
  $("record-log").textContent = (r.logs || []).join("\n") || "(no log lines)";
  renderRecords();
}

function appendTail(records) {
  if (!records.length) return;
  const tail = $("tail");
  const atBottom = tail.scrollTop + tail.clientHeight >= tail.scrollHeight - 4;
  let text = tail.textContent;
  for (const r of records) {
    text += `── ${clock(r.startTime)} ${recordName(r)} ${r.requestId} ${r.status} ${r.durationMs.toFixed(1)} ms ${r.coldStart ? "cold" : "warm"}\n`;
    for (const line of r.logs || []) text += line + "\n";
  }
  tail.textContent = text.length > TAIL_CHARS ? text.slice(text.length - TAIL_CHARS) : text;
  if (atBottom) tail.scrollTop = tail.scrollHeight;
}

async function loadRecords() {
  if (state.lastSeq === null) {
    const page = await apiJson("GET", "/_emulator/invocations", { query: { limit: 50 } });
    state.records = page.invocations;
    state.lastSeq = page.invocations.length ? page.invocations[0].seq : 0;
    appendTail(page.invocations.slice(0, 20).reverse());
  } else {
    const page = await apiJson("GET", "/_emulator/invocations", { query: { after: state.lastSeq, order: "asc", limit: 200 } });
    if (!page.invocations.length) return;
    state.lastSeq = page.invocations[page.invocations.length - 1].seq;
    state.records = [...page.invocations.slice().reverse(), ...state.records].slice(0, RECORDS_KEPT);
    appendTail(page.invocations);
  }
  renderRecords();
}

// ---- polling ------------------------------------------------------------------------------------------

async function loadState() {
  const snap = await apiJson("GET", "/_emulator/dashboard");
  state.snapshot = snap;
  $("version").textContent = snap.version;
  const list = $("accounts");
  const accounts = [snap.defaultAccountId, ...snap.accounts.filter((a) => a !== snap.defaultAccountId)];
  if (list.dataset.values !== accounts.join(",")) {
    fill(list, accounts.map((a) => el("option", { value: a })));
    list.dataset.values = accounts.join(",");
  }
  $("account").placeholder = `${snap.defaultAccountId} (default)`;
  $("busy").textContent = `running ${snap.busy.running} · async pending ${snap.busy.asyncPending}`;
  render();
}

async function refresh(force = false) {
  if (state.busy || state.needKey) return;
  if (!force && (!$("live").checked || document.hidden)) return;
  state.busy = true;
  try {
    await Promise.all([loadState(), loadRecords()]);
    showError("");
    $("updated").textContent = "updated " + new Date().toLocaleTimeString([], { hour12: false });
  } catch (e) {
    if (!state.needKey) showError(`Could not refresh: ${e.message}`);
  } finally {
    state.busy = false;
  }
}

function resetAccount() {
  state.records = [];
  state.lastSeq = null;
  state.recordShown = null;
  $("record").hidden = true;
  $("tail").textContent = "";
  $("invoke-result").hidden = true;
  $("invoke-status").textContent = "";
}

// ---- actions ------------------------------------------------------------------------------------------

async function invoke(e) {
  e.preventDefault();
  const f = functionsOf(state.snapshot).find((x) => x.id === state.selected);
  if (!f) return;
  const qualifier = $("invoke-qualifier").value || "LATEST";
  const type = document.querySelector("input[name=invoke-type]:checked").value;
  const headers = { "X-Fc-Invocation-Type": type };
  if (type === "Sync") headers["X-Fc-Log-Type"] = "Tail";
  let path, query = null;
  if (f.fc3) {
    path = `/2023-03-30/functions/${f.name}/invocations`;
    if (qualifier !== "LATEST") query = { qualifier };
  } else {
    path = `/2016-08-15/services/${f.service}${qualifier !== "LATEST" ? "." + qualifier : ""}/functions/${f.name}/invocations`;
  }
  const button = $("invoke-button");
  button.disabled = true;
  $("invoke-status").textContent = "invoking…";
  const t0 = performance.now();
  try {
    const r = await api("POST", path, { query, body: $("invoke-payload").value, contentType: "application/octet-stream", headers });
    const text = await r.text();
    const ms = (performance.now() - t0).toFixed(0);
    const rid = r.headers.get("x-fc-request-id") || "";
    const errorType = r.headers.get("x-fc-error-type");
    const status = r.ok && !errorType ? "ok" : "bad";
    fill($("invoke-status"), el("span", { class: status }, `${r.status}${errorType ? " " + errorType : ""}`),
      ` in ${ms} ms · request id `, el("span", { class: "mono", id: "invoke-request-id" }, rid));
    $("invoke-result").hidden = false;
    $("invoke-body").textContent = text || (r.status === 202 ? "(accepted: queued for an async invocation)" : "(empty)");
    const log = r.headers.get("x-fc-log-result");
    $("invoke-log").textContent = log ? decodeBase64(log) : type === "Async" ? "(async: the log shows in the records when it has run)" : "(none)";
    if (r.status === 403 && state.auth === "strict") askForKey("403: the request was refused; check the key");
  } catch (err) {
    $("invoke-status").textContent = `failed: ${err.message}`;
  } finally {
    button.disabled = false;
  }
  refresh(true);
}

async function fire(f, trigger) {
  const out = $("fire-result");
  out.textContent = `firing ${trigger.triggerName}…`;
  try {
    const r = await apiJson("POST", `/_emulator/services/${f.engineService}/functions/${f.name}/triggers/${trigger.triggerName}/fire`);
    fill(out, `fired ${trigger.triggerName}: async request id `, el("span", { class: "mono", id: "fire-request-id" }, r.requestId));
  } catch (err) {
    out.textContent = `could not fire ${trigger.triggerName}: ${err.message}`;
  }
  refresh(true);
}

async function putEvent(e) {
  e.preventDefault();
  const source = $("event-source").value;
  const out = $("event-result");
  $("event-status").textContent = "sending…";
  try {
    const answer = await apiJson("POST", `/_emulator/events/${source}`, { body: $("event-body").value });
    $("event-status").textContent = `${answer.matched.length} trigger(s) fired`;
    out.textContent = JSON.stringify(answer, null, 2);
    out.hidden = false;
  } catch (err) {
    $("event-status").textContent = "";
    out.textContent = err.message;
    out.hidden = false;
  }
  refresh(true);
}

// ---- the access key ---------------------------------------------------------------------------------

function askForKey(message) {
  state.needKey = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  if (state.key) $("key-id").value = state.key.id;
  $("key-id").focus();
}

async function signIn(e) {
  e.preventDefault();
  state.key = { id: $("key-id").value.trim(), secret: $("key-secret").value };
  state.needKey = false;
  try {
    await apiJson("GET", "/_emulator/dashboard");
  } catch (err) {
    state.key = null;
    askForKey(`The emulator refused the key: ${err.message}`);
    return;
  }
  sessionStorage.setItem(KEY_STORE, JSON.stringify(state.key));
  $("login").hidden = true;
  $("key-secret").value = "";
  updateKeyButton();
  resetAccount();
  refresh(true);
}

function updateKeyButton() {
  $("key-button").textContent = state.key ? `Key: ${state.key.id}` : "Access key";
}

async function start() {
  $("account").value = localStorage.getItem(ACCOUNT_STORE) || "";
  $("event-body").value = JSON.stringify(EVENT_EXAMPLES.oss);
  $("event-source").addEventListener("change", () => { $("event-body").value = JSON.stringify(EVENT_EXAMPLES[$("event-source").value]); });
  $("invoke-form").addEventListener("submit", invoke);
  $("event-form").addEventListener("submit", putEvent);
  $("login-form").addEventListener("submit", signIn);
  $("key-button").addEventListener("click", () => askForKey(""));
  $("key-cancel").addEventListener("click", () => { $("login").hidden = true; state.needKey = state.auth === "strict" && !state.key; });
  $("key-forget").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_STORE); state.key = null; updateKeyButton(); askForKey("");
  });
  $("only-selected").addEventListener("change", renderRecords);
  $("tail-clear").addEventListener("click", () => { $("tail").textContent = ""; });
  $("live").addEventListener("change", () => refresh(true));
  $("account").addEventListener("change", () => {
    localStorage.setItem(ACCOUNT_STORE, $("account").value.trim());
    resetAccount();
    refresh(true);
  });
  document.addEventListener("visibilitychange", () => refresh());
  updateKeyButton();
  try {
    const health = await (await fetch("/health", { cache: "no-store" })).json();
    state.auth = health.auth;
    $("version").textContent = health.version;
  } catch (e) {
    showError("The emulator does not answer /health.");
  }
  const badge = $("auth-mode");
  badge.textContent = `auth: ${state.auth || "?"}`;
  badge.classList.toggle("strict", state.auth === "strict");
  if (state.auth === "strict" && !state.key) askForKey("");
  await refresh(true);
  setInterval(refresh, POLL_MS);
}

start();
