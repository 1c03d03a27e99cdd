'use strict';
// HTTP-trigger objects for the Node.js agent: the `req` / `resp` given to
// `exports.handler = (req, resp, context) => ...` (runtimes.md §4.2), built from the
// x-fc-http-params request header (runtimes.md §3.2). Runs on Node 4 to 20 (see fclog.js).

const Readable = require('stream').Readable;

// Headers for which Node's own http module keeps only the first value; FC's agent does the same.
const SINGLETON = new Set([
  'age', 'authorization', 'content-length', 'content-type', 'etag', 'expires', 'from', 'host',
  'if-modified-since', 'if-unmodified-since', 'last-modified', 'location', 'max-forwards',
  'proxy-authorization', 'referer', 'retry-after', 'server', 'user-agent',
]);

// Response headers the platform drops (runtimes.md §2.5); the agent ignores them too.
const RESTRICTED = new Set(['connection', 'content-length', 'date', 'keep-alive', 'server', 'upgrade']);

function isRestricted(lower) {
  return RESTRICTED.has(lower) || lower.startsWith('x-fc-');
}

function parseParams(b64) {
  return JSON.parse(Buffer.from(b64, 'base64').toString('utf8'));
}

function toList(v) {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v.map(String) : [String(v)];
}

function buildHeaders(params) {
  const headers = {};
  // Newer payloads carry headersMap {Name: [v…]}; older ones a single-valued `headers`.
  const src = params.headersMap || params.headers || {};
  for (const name of Object.keys(src)) {
    const key = name.toLowerCase();
    const values = toList(src[name]);
    if (!values.length) continue;
    if (key === 'set-cookie') {
      headers[key] = (headers[key] || []).concat(values);
    } else if (SINGLETON.has(key)) {
      if (headers[key] === undefined) headers[key] = values[0];
    } else {
      const joined = values.join(', ');
      headers[key] = headers[key] === undefined ? joined : headers[key] + ', ' + joined;
    }
  }
  if (headers.host === undefined && params.host) headers.host = String(params.host);
  return headers;
}

function buildQueries(params) {
  const queries = {};
  if (params.queriesMap) {
    for (const k of Object.keys(params.queriesMap)) {
      const values = toList(params.queriesMap[k]);
      queries[k] = values.length === 1 ? values[0] : values;
    }
  } else if (params.queries) {
    Object.assign(queries, params.queries);
  }
  return queries;
}

// `req` is a Readable (data/end events, pipeable into raw-body & co.) carrying the FC fields.
// Node < 6 ignores Buffer.from(arrayBuffer, offset, length)'s offset and length: slice instead.
function bytes(u8) {
  return Buffer.from(u8.buffer).slice(u8.byteOffset, u8.byteOffset + u8.byteLength);
}

function makeRequest(params, body) {
  const req = new Readable({ read() {} });
  if (body.length) req.push(body);
  req.push(null);
  const headers = buildHeaders(params);
  const uri = params.requestURI || params.path || '/';
  req.headers = headers;
  req.path = params.path || uri.split('?')[0];
  req.queries = buildQueries(params);
  req.method = params.method || 'GET';
  req.clientIP = params.clientIP || '';
  req.url = uri;
  req.body = body;
  req.getHeader = (name) => headers[String(name).toLowerCase()];
  return req;
}

function isStream(x) {
  return x !== null && typeof x === 'object' && typeof x.pipe === 'function' && typeof x.on === 'function';
}

// onDone(status, headersMap, bodyBuffer) once the body is complete; onError(err) if it fails.
class Response {
  constructor(onDone, onError) {
    this._status = 200;
    this._headers = new Map(); // lower-cased name → [name as first set, [values]]
    this._sent = false;
    this._onDone = onDone;
    this._onError = onError;
  }

  setStatusCode(code) {
    const n = typeof code === 'number' ? code : parseInt(code, 10);
    if (!Number.isInteger(n) || n < 100 || n > 999) throw new TypeError(`Invalid status code: ${code}`);
    this._status = n;
  }

  setHeader(key, value) {
    if (typeof key !== 'string' || !key) throw new TypeError('Header name must be a non-empty string');
    const lower = key.toLowerCase();
    if (isRestricted(lower)) return;
    this._headers.set(lower, [key, toList(value)]);
  }

  getHeader(key) {
    const entry = this._headers.get(String(key).toLowerCase());
    if (!entry) return undefined;
    return entry[1].length === 1 ? entry[1][0] : entry[1].slice();
  }

  hasHeader(key) {
    return this._headers.has(String(key).toLowerCase());
  }

  deleteHeader(key) {
    this._headers.delete(String(key).toLowerCase());
  }

  send(body) {
    if (this._sent) throw new Error('resp.send() can only be called once');
    this._sent = true;
    if (isStream(body)) {
      const chunks = [];
      body.on('data', (c) => chunks.push(typeof c === 'string' ? Buffer.from(c) : c));
      body.on('end', () => this._finish(Buffer.concat(chunks)));
      body.on('error', (err) => this._onError(err));
      return;
    }
    let buf;
    if (body === undefined || body === null) buf = Buffer.alloc(0);
    else if (Buffer.isBuffer(body)) buf = body;
    else if (body instanceof Uint8Array) buf = bytes(body);
    else if (typeof body === 'string') buf = Buffer.from(body, 'utf8');
    else if (typeof body === 'object') buf = Buffer.from(JSON.stringify(body), 'utf8');
    else buf = Buffer.from(String(body), 'utf8');
    this._finish(buf);
  }

  _finish(buf) {
    const headersMap = {};
    this._headers.forEach(function (entry) { headersMap[entry[0]] = entry[1]; });
    this._onDone(this._status, headersMap, buf);
  }
}

module.exports = { parseParams, makeRequest, Response, bytes };
