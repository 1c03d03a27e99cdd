'use strict';
// Logging for the Node.js agent: request-id prefixed console/context.logger lines and the
// FC log markers. Everything goes to stdout (synchronous for files and pipes on Linux), so a
// marker written before the answer is in the stream when the answer arrives, and user lines
// keep their order relative to the markers (a second stream could be read out of order).

const util = require('util');
const { AsyncLocalStorage } = require('async_hooks');

// Which invocation the running code belongs to; survives timers, promises and I/O callbacks,
// so concurrent invocations (instanceConcurrency > 1) each log with their own request id.
const als = new AsyncLocalStorage();

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

// context.logger: bound to one request id (closures, so `const { info } = context.logger` works).
function makeLogger(requestId) {
  const logger = {
    log(level, ...args) {
      if (typeof level === 'string' && level.toLowerCase() in LEVELS) emit(requestId, level.toLowerCase(), args);
      else emit(requestId, 'info', [level, ...args]);
    },
    setLogLevel,
  };
  for (const level of Object.keys(LEVELS)) logger[level] = (...args) => emit(requestId, level, args);
  return logger;
}

function currentRequestId() {
  const store = als.getStore();
  return store ? store.requestId : '';
}

// console.log → [verbose]; info/warn/error/debug → their level (as the FC agent's winston setup).
function installConsole() {
  console.log = (...args) => emit(currentRequestId(), 'verbose', args);
  console.info = (...args) => emit(currentRequestId(), 'info', args);
  console.warn = (...args) => emit(currentRequestId(), 'warn', args);
  console.error = (...args) => emit(currentRequestId(), 'error', args);
  console.debug = (...args) => emit(currentRequestId(), 'debug', args);
}

module.exports = { als, marker, write, emit, makeLogger, installConsole, setLogLevel };
