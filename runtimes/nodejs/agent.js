'use strict';
// fc-emulator's Node.js agent: the per-instance HTTP server of the built-in nodejs runtimes
// (docs/runtime-protocol.md, runtimes.md §3.2/§4.2). Plain CommonJS, standard library only.
// One agent for every nodejsN runtime, so it runs on Node 4 to 20: only syntax and APIs Node 4
// has (no async/await, rest/spread, destructuring, trailing call commas); newer APIs behind checks.
//
// POST /invoke      event (body = raw event) or HTTP trigger (x-fc-http-params header)
// POST /initialize  the function's initializer
// GET  /pre-freeze, /pre-stop  lifecycle hooks (handler from the x-fc-instance-lifecycle-* headers)

const http = require('http');
const fs = require('fs');
const path = require('path');
const util = require('util');
const crypto = require('crypto');
const Module = require('module');
const fclog = require('./fclog');
const fchttp = require('./fchttp');

const env = process.env;
// The function's folders: from the environment at start, or at POST /assign for a standby instance.
let CODE_DIR = path.resolve(env.FC_FUNC_CODE_PATH || '/code');
let OPT_DIR = env.FC_EMULATOR_OPT_DIR || '/opt';
const NODE_MAJOR = parseInt(process.versions.node, 10);
const RUNTIME = env.FC_RUNTIME || `nodejs${NODE_MAJOR}`;
const RUNTIME_MAJOR = parseInt((RUNTIME.match(/(\d+)/) || [])[1], 10) || NODE_MAJOR;
// .mjs handlers exist from nodejs18 on; fcesm.js uses import(), which older Node cannot parse.
const ESM_ALLOWED = RUNTIME_MAJOR >= 18 && NODE_MAJOR >= 14;

// ---------------------------------------------------------------------------------------------
// Module resolution: layers' node_modules and the preinstalled SDK dir, like FC's NODE_PATH.

function setupNodePath() {
  const dirs = [
    path.join(OPT_DIR, 'nodejs', `node${RUNTIME_MAJOR}`, 'node_modules'),
    path.join(OPT_DIR, 'nodejs', 'node_modules'),
  ].concat((env.NODE_PATH || '').split(path.delimiter).filter(Boolean), ['/usr/local/lib/node_modules']);
  env.NODE_PATH = Array.from(new Set(dirs)).join(path.delimiter);
  Module._initPaths(); // re-read NODE_PATH (read once at start-up otherwise)
}

// ---------------------------------------------------------------------------------------------
// Handler loading: "dir/file.export" → require('<code>/dir/file')[export], cached per process.

const handlers = new Map(); // handler string → function

function exists(p) {
  try {
    return fs.statSync(p).isFile();
  } catch (_) {
    return false;
  }
}

// The handler function, or a promise of it for ES modules (CommonJS loads synchronously).
function loadHandler(handler) {
  const dot = handler.lastIndexOf('.');
  if (dot <= 0 || dot === handler.length - 1) throw new Error(`Invalid handler '${handler}'`);
  const file = handler.slice(0, dot);
  const name = handler.slice(dot + 1);
  const base = path.resolve(CODE_DIR, file);
  const pick = (mod) => pickHandler(handler, file, name, mod);
  if (ESM_ALLOWED && !exists(base + '.js') && !exists(base + '.cjs') && !exists(base) && exists(base + '.mjs')) {
    return require('./fcesm').importFile(base + '.mjs').then(pick);
  }
  let mod;
  try {
    mod = require(base);
  } catch (err) {
    // A .js file in a "type": "module" package (or with top-level await on newer Node).
    if (!ESM_ALLOWED || (err.code !== 'ERR_REQUIRE_ESM' && err.code !== 'ERR_REQUIRE_ASYNC_MODULE')) throw err;
    return require('./fcesm').importFile(require.resolve(base)).then(pick);
  }
  return pick(mod);
}

function pickHandler(handler, file, name, mod) {
  let fn = mod == null ? undefined : mod[name];
  // ESM importing CommonJS, or `export default { handler }`.
  if (fn === undefined && mod != null && mod.default != null && typeof mod.default === 'object') fn = mod.default[name];
  if (typeof fn !== 'function') {
    const err = new Error(`Handler '${name}' missing on module '${file}'`);
    err.stack = `Error: ${err.message}`; // the agent's frames say nothing to the user
    throw err;
  }
  handlers.set(handler, fn);
  return fn;
}

// ---------------------------------------------------------------------------------------------
// Results and errors.

// Frames of the agent itself are noise in a user's stackTrace.
const AGENT_DIR = __dirname + path.sep;
const isAgentLine = (line) => line.includes(AGENT_DIR) || line.includes('AsyncLocalStorage.run') ||
  line.includes('Domain.run') || /\(domain\.js:\d/.test(line);

// Paths as the instance shows them on FC (/code/index.js), never the process backend's host folders.
const shownPaths = () => [[CODE_DIR, '/code'], [path.resolve(OPT_DIR), '/opt'], [__dirname, '/var/fc/runtime/nodejs']]
  .filter((p) => p[0] !== p[1]);
let SHOWN = shownPaths();
function shown(text) {
  return SHOWN.reduce((t, p) => t.split(p[0] + path.sep).join(p[1] + '/'), text);
}

function stackLines(err) {
  if (typeof err.stack !== 'string') return [];
  return err.stack.split('\n').slice(1).filter((l) => !isAgentLine(l)).map((l) => shown(l.trim()));
}

// `Cannot find module '/code/x'\nRequire stack:\n- …/agent.js`: drop the agent from the message.
function cleanLoadError(err) {
  if (err instanceof Error && typeof err.message === 'string' && err.message.includes(AGENT_DIR)) {
    const fix = (text) => text.split('\n').filter((l) => !isAgentLine(l)).join('\n')
      .replace(/\nRequire stack:(?=\n\s+at |$)/, '');
    err.message = fix(err.message);
    if (typeof err.stack === 'string') err.stack = fix(err.stack);
  }
  return err;
}

function errorJson(err) {
  if (err instanceof Error || Object.prototype.toString.call(err) === '[object Error]') {
    return { errorMessage: shown(String(err.message)), errorType: String(err.name), stackTrace: stackLines(err) };
  }
  let msg;
  try {
    msg = String(err);
  } catch (_) {
    msg = Object.prototype.toString.call(err);
  }
  return { errorMessage: msg };
}

const EMPTY = Buffer.alloc(0);

// null/undefined → empty; Buffer as-is; string UTF-8; object → JSON; number/boolean → toString().
function resultBody(v) {
  if (v === undefined || v === null) return EMPTY;
  if (Buffer.isBuffer(v)) return v;
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  if (v instanceof Uint8Array) return fchttp.bytes(v);
  if (typeof v === 'object') {
    const s = JSON.stringify(v);
    return s === undefined ? EMPTY : Buffer.from(s, 'utf8');
  }
  return Buffer.from(String(v), 'utf8');
}

// Peak resident size (VmHWM) in MB; one pread on a kept-open /proc/self/status fd.
let statusFd = -1;
const statusBuf = Buffer.alloc(8192);
function maxMemory() {
  try {
    if (statusFd < 0) statusFd = fs.openSync('/proc/self/status', 'r');
    const n = fs.readSync(statusFd, statusBuf, 0, statusBuf.length, 0);
    const m = /VmHWM:\s*(\d+)/.exec(statusBuf.toString('binary', 0, n)); // 'latin1' is Node 6.4+
    if (m) return (parseInt(m[1], 10) / 1024).toFixed(2);
  } catch (_) {
    /* not Linux: fall back below */
  }
  if (process.resourceUsage) return (process.resourceUsage().maxRSS / 1024).toFixed(2);
  return (process.memoryUsage().rss / 1048576).toFixed(2);
}

// ---------------------------------------------------------------------------------------------
// One call (invoke / initialize / hook): answered exactly once, End marker first.

const inflight = new Set();
let dying = false;

class Call {
  constructor(kind, requestId, res) {
    this.kind = kind; // "Invoke", "Initialize", "PreFreeze", "PreStop"
    this.requestId = requestId;
    this.res = res;
    this.done = false;
    inflight.add(this);
    fclog.marker(`FC ${kind} Start RequestId: ${requestId}`);
  }

  answer(status, body, suffix, headers, onSent) {
    if (this.done) return;
    this.done = true;
    inflight.delete(this);
    fclog.marker(`FC ${this.kind} End RequestId: ${this.requestId}${suffix}`);
    const h = headers || {};
    h['content-length'] = body.length;
    h['x-fc-max-memory-usage'] = maxMemory();
    this.res.writeHead(status, h);
    this.res.end(body, onSent);
  }

  succeed(value) {
    if (this.done) return;
    let body;
    try {
      body = resultBody(value);
    } catch (err) {
      this.unhandled(err); // e.g. a circular object
      return;
    }
    this.answer(200, body, '');
  }

  // callback(err): 417 for invocations; an initializer/hook failure is always 404.
  handled(err) {
    if (this.done) return;
    const status = this.kind === 'Invoke' ? 417 : 404;
    this.answer(status, jsonBody(errorJson(err)), ', Error: Handled function error', JSON_HEADERS());
  }

  // Throw, rejected promise, uncaught exception, load failure.
  unhandled(err, onSent) {
    if (this.done) return;
    const json = errorJson(err);
    fclog.emit(this.requestId, 'error', [err instanceof Error && err.stack ? err.stack : JSON.stringify(json)]);
    this.answer(404, jsonBody(json), ', Error: Unhandled function error', JSON_HEADERS(), onSent);
  }
}

const JSON_HEADERS = () => ({ 'content-type': 'application/json' });
const jsonBody = (obj) => Buffer.from(JSON.stringify(obj), 'utf8');

// Runs user function `fn(...args)` where args[cbIndex] is the callback. Completion: the first of
// callback(err, data), a returned thenable settling, or a throw. A promise that resolves to
// undefined from a function that declares the callback parameter is not a completion: such code
// (`async (event, context, callback) => { setTimeout(() => callback(null, x)) }`) answers later.
function runUser(call, fn, args, cbIndex) {
  args[cbIndex] = function callback(err, data) {
    if (call.done) return; // only the first completion counts
    if (err !== undefined && err !== null) call.handled(err);
    else call.succeed(data);
  };
  let ret;
  try {
    ret = fn.apply(null, args);
  } catch (err) {
    call.unhandled(err);
    return;
  }
  if (ret !== null && (typeof ret === 'object' || typeof ret === 'function') && typeof ret.then === 'function') {
    ret.then(
      (value) => {
        if (value === undefined && fn.length > cbIndex) return;
        call.succeed(value);
      },
      (err) => call.unhandled(err)
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Context (runtimes.md §4.2), all from the request headers.

// crypto.randomUUID is Node 14.17+.
function randomUUID() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.randomBytes(16);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function int(v, dflt) {
  const n = parseInt(v, 10);
  return Number.isNaN(n) ? dflt : n;
}

function baggages(v) {
  if (!v) return {};
  try {
    return JSON.parse(Buffer.from(v, 'base64').toString('utf8'));
  } catch (_) {
    return {};
  }
}

function makeContext(h, requestId) {
  return {
    requestId,
    credentials: {
      accessKeyId: h['x-fc-access-key-id'] || '',
      accessKeySecret: h['x-fc-access-key-secret'] || '',
      securityToken: h['x-fc-security-token'] || '',
    },
    function: {
      name: h['x-fc-function-name'] || env.FC_FUNCTION_NAME || '',
      handler: h['x-fc-function-handler'] || env.FC_FUNCTION_HANDLER || '',
      memory: int(h['x-fc-function-memory'] || env.FC_FUNCTION_MEMORY_SIZE, 0),
      timeout: int(h['x-fc-function-timeout'], 0),
      initializer: h['x-fc-function-initializer'] || '',
      initializationTimeout: int(h['x-fc-initialization-timeout'], 0),
    },
    service: {
      name: h['x-fc-service-name'] || env.FC_SERVICE_NAME || '',
      logProject: h['x-fc-service-logproject'] || '',
      logStore: h['x-fc-service-logstore'] || '',
      qualifier: h['x-fc-qualifier'] || env.FC_QUALIFIER || '',
      versionId: h['x-fc-version-id'] || '',
    },
    region: h['x-fc-region'] || env.FC_REGION || '',
    accountId: h['x-fc-account-id'] || env.FC_ACCOUNT_ID || '',
    retryCount: int(h['x-fc-retry-count'], 0),
    tracing: {
      openTracingSpanContext: h['x-fc-tracing-opentracing-span-context'] || '',
      openTracingSpanBaggages: baggages(h['x-fc-tracing-opentracing-span-baggages']),
      jaegerEndpoint: h['x-fc-tracing-jaeger-endpoint'] || '',
    },
    logger: fclog.makeLogger(requestId),
  };
}

// ---------------------------------------------------------------------------------------------
// Request handling.

const CALLS = {
  '/invoke': ['Invoke', 'x-fc-function-handler'],
  '/initialize': ['Initialize', 'x-fc-function-initializer'],
  '/pre-freeze': ['PreFreeze', 'x-fc-instance-lifecycle-pre-freeze-handler'],
  '/pre-stop': ['PreStop', 'x-fc-instance-lifecycle-pre-stop-handler'],
};

function onRequest(req, res) {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => dispatch(req, res, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
}

function plainAnswer(res, status, obj) {
  const body = jsonBody(obj);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': body.length,
    'x-fc-max-memory-usage': maxMemory(),
  });
  res.end(body);
}

// A standby instance (FC_EMULATOR_STANDBY in its first environment) starts without a function and gets
// it from POST /assign (docs/runtime-protocol.md): exactly the environment a fresh start would have had.
let standby = !!env.FC_EMULATOR_STANDBY;

// What the emulator gave at start is a part of the function's environment; the container's own variables stay.
function assign(res, body) {
  const given = JSON.parse(body.toString('utf8')).env;
  delete env.FC_EMULATOR_STANDBY;
  Object.keys(given).forEach((k) => (env[k] = given[k]));
  CODE_DIR = path.resolve(env.FC_FUNC_CODE_PATH || '/code');
  OPT_DIR = env.FC_EMULATOR_OPT_DIR || '/opt';
  SHOWN = shownPaths();
  setupNodePath();
  try {
    process.chdir(CODE_DIR); // a fresh instance starts in its code folder
  } catch (_) {
    /* as a fresh start would: the calls fail on their own terms */
  }
  standby = false;
  plainAnswer(res, 200, {});
}

function dispatch(req, res, body) {
  const q = req.url.indexOf('?');
  if (standby) {
    if (req.url === '/assign') return assign(res, body);
    return plainAnswer(res, 400, { errorMessage: 'this standby instance has no function yet' });
  }
  const route = CALLS[q < 0 ? req.url : req.url.slice(0, q)];
  if (!route) return plainAnswer(res, 400, { errorMessage: `Unknown agent path ${req.method} ${req.url}` });
  if (dying) return plainAnswer(res, 503, { errorMessage: 'The instance is exiting after an uncaught exception' });
  const h = req.headers;
  const requestId = h['x-fc-request-id'] || randomUUID();
  const call = new Call(route[0], requestId, res);
  const handler = h[route[1]];
  const context = makeContext(h, requestId);
  const store = { requestId };
  fclog.als.run(store, () => {
    if (!handler) {
      // No initializer/hook configured: nothing to run.
      if (route[0] === 'Invoke') call.unhandled(new Error('Missing x-fc-function-handler'));
      else call.succeed(undefined);
      return;
    }
    let fn = handlers.get(handler);
    if (!fn) {
      try {
        fn = loadHandler(handler);
      } catch (err) {
        call.unhandled(cleanLoadError(err));
        return;
      }
    }
    if (typeof fn === 'function') start(call, route[0], fn, h, body, context);
    else {
      fn.then(
        (loaded) => start(call, route[0], loaded, h, body, context),
        (err) => call.unhandled(cleanLoadError(err))
      );
    }
  });
}

function start(call, kind, fn, h, body, context) {
  if (kind !== 'Invoke') return runUser(call, fn, [context, null], 1);
  const params = h['x-fc-http-params'];
  if (params === undefined) return runUser(call, fn, [body, context, null], 2);
  startHttp(call, fn, params, body, context);
}

// HTTP trigger: (req, resp, context); resp.send completes; a throw/rejection is a 404 error.
function startHttp(call, fn, b64, body, context) {
  let params;
  try {
    params = fchttp.parseParams(b64);
  } catch (err) {
    call.unhandled(new Error(`Invalid x-fc-http-params header: ${err.message}`));
    return;
  }
  const req = fchttp.makeRequest(params, body);
  const resp = new fchttp.Response(
    (status, headersMap, out) => {
      const meta = Buffer.from(JSON.stringify({ status, headersMap }), 'utf8').toString('base64');
      call.answer(200, out, '', { 'x-fc-http-params': meta });
    },
    (err) => call.unhandled(err)
  );
  let ret;
  try {
    ret = fn(req, resp, context);
  } catch (err) {
    call.unhandled(err);
    return;
  }
  if (ret !== null && typeof ret === 'object' && typeof ret.then === 'function') {
    ret.then(undefined, (err) => call.unhandled(err));
  }
}

// ---------------------------------------------------------------------------------------------
// Crashes and signals.

// An exception nobody caught (timer, event emitter, unhandled rejection): we cannot tell whose
// it is, so every in-flight call gets it as an unhandled error; then the process exits and the
// emulator replaces the instance (FC's agent lets the process crash too).
function onUncaught(err) {
  if (dying) return;
  dying = true;
  const pending = Array.from(inflight);
  if (!pending.length) {
    process.stderr.write(`Uncaught exception: ${util.inspect(err)}\n`);
    process.exit(1);
  }
  server.close();
  let left = pending.length;
  const sent = () => {
    if (--left === 0) process.exit(1);
  };
  for (const call of pending) call.unhandled(err, sent);
  setTimeout(() => process.exit(1), 1000); // answers stuck in a full socket buffer
}

process.on('uncaughtException', onUncaught);
fclog.onCrash(onUncaught); // errors a call's domain caught (Node < 12.17)
process.on('SIGTERM', () => process.exit(143));
process.on('SIGINT', () => process.exit(130));

// ---------------------------------------------------------------------------------------------
// Start.

if (!standby) setupNodePath();
fclog.installConsole();

// Large x-fc-http-params headers (Node < 12.15 needs the --max-http-header-size flag instead);
// no request/header timers (FC keeps connections forever). Node < 9.6 takes no options object.
const server = NODE_MAJOR >= 10
  ? http.createServer({ maxHeaderSize: 256 * 1024, requestTimeout: 0, headersTimeout: 0 }, onRequest)
  : http.createServer(onRequest);
server.keepAliveTimeout = 0; // 0 = keep idle keep-alive connections open indefinitely
server.requestTimeout = 0;
server.headersTimeout = 0;
server.timeout = 0;
server.on('connection', (socket) => socket.setNoDelay(true));
server.on('clientError', (err, socket) => {
  if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
});

const port = int(env.FC_SERVER_PORT, 9000);
const host = env.FC_SERVER_HOST || '0.0.0.0';
server.listen(port, host, () => {
  fclog.write(`FunctionCompute ${RUNTIME} runtime inited.\n`);
});
