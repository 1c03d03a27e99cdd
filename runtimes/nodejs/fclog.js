'use strict';
// Logging for the Node.js agent: request-id prefixed console/context.logger lines and the
// FC log markers. Everything goes to stdout (synchronous for files and pipes on Linux), so a
// marker written before the answer is in the stream when the answer arrives, and user lines
// keep their order relative to the markers (a second stream could be read out of order).
// Runs on Node 4 to 20: no rest/spread/destructuring (Node 6+), no async/await (Node 8+).

const util = require('util');

// Which invocation the running code belongs to; survives timers, promises and I/O callbacks,
// so concurrent invocations (instanceConcurrency > 1) each log with their own request id.
// AsyncLocalStorage from Node 12.17; before that a domain per call carries the store
// (domains follow timers, I/O and EventEmitters; promises too from Node 8).
let crashHandler = function (err) { throw err; };

function domainStorage() {
  const domain = require('domain');
  return {
    run(store, fn) {
      const d = domain.create();
      d.fcStore = store;
      // A domain swallows errors thrown in its callbacks: hand them to the agent's crash handling.
      d.on('error', function (err) { crashHandler(err); });
      return d.run(fn);
    },
    getStore() {
      const d = process.domain;
      return d ? d.fcStore : undefined;
    },
  };
}

// Node < 8 runs promise callbacks outside any domain: bind them to the domain that called then().
// (A throw inside still rejects the promise: the callback runs inside try/finally, not domain.bind.)
function bindPromisesToDomains() {
  const then = Promise.prototype.then;
  const bind = (d, fn) => (typeof fn !== 'function' ? fn : function () {
    d.enter();
    try {
      return fn.apply(this, arguments);
    } finally {
      d.exit();
    }
  });
  Promise.prototype.then = function (onFulfilled, onRejected) {
    const d = process.domain;
    if (!d || !d.fcStore) return then.call(this, onFulfilled, onRejected);
    return then.call(this, bind(d, onFulfilled), bind(d, onRejected));
  };
}

function makeStorage() {
  let hooks = null;
  try {
    hooks = require('async_hooks');
  } catch (_) {
    bindPromisesToDomains(); // Node < 8
  }
  return hooks && hooks.AsyncLocalStorage ? new hooks.AsyncLocalStorage() : domainStorage();
}

const als = makeStorage();

// Where an error thrown in a call's async callback goes when domains carry the store.
function onCrash(fn) {
  crashHandler = fn;
}

// winston's npm levels (the FC Node agent's logger is winston-based).
const LEVELS = { error: 0, warn: 1, info: 2, verbose: 3, debug: 4, silly: 5 };
let threshold = LEVELS.silly;

function write(text) {
  process.stdout.write(text);
}

function marker(line) {
  process.stdout.write(line + '\n');
}

function emit(requestId, level, args) {
  if (LEVELS[level] > threshold) return;
  const msg = util.format.apply(null, args);
  const id = requestId ? ' ' + requestId : '';
  write(`${new Date().toISOString()}${id} [${level}] ${msg}\n`);
}

function setLogLevel(level) {
  const key = String(level).toLowerCase();
  if (key in LEVELS) threshold = LEVELS[key];
}

const slice = Array.prototype.slice;

// context.logger: bound to one request id (closures, so `const { info } = context.logger` works).
function makeLogger(requestId) {
  const logger = {
    log(level) {
      const args = slice.call(arguments, 1);
      if (typeof level === 'string' && level.toLowerCase() in LEVELS) emit(requestId, level.toLowerCase(), args);
      else emit(requestId, 'info', [level].concat(args));
    },
    setLogLevel,
  };
  Object.keys(LEVELS).forEach(function (level) {
    logger[level] = function () { emit(requestId, level, slice.call(arguments)); };
  });
  return logger;
}

function currentRequestId() {
  const store = als.getStore();
  return store ? store.requestId : '';
}

// console.log → [verbose]; info/warn/error/debug → their level (as the FC agent's winston setup).
function installConsole() {
  const levels = { log: 'verbose', info: 'info', warn: 'warn', error: 'error', debug: 'debug' };
  Object.keys(levels).forEach(function (method) {
    console[method] = function () { emit(currentRequestId(), levels[method], slice.call(arguments)); };
  });
}

module.exports = { als, onCrash, marker, write, emit, makeLogger, installConsole, setLogLevel };
