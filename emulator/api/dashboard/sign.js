/* fc-emulator dashboard: FC's request signature in the browser (fc-api.md §1.1, emulator/api/auth.py).
 *
 * Authorization: FC <id>:base64(HMAC-SHA256(secret, METHOD\nContent-MD5\nContent-Type\nDate\n<x-fc-* headers><path>))
 * Content-MD5 is not sent; Date is empty because a browser cannot set it: the time goes in x-fc-date, which
 * the emulator accepts in its place (and which is signed, being an x-fc-* header). The path is the
 * unencoded one, as the SDKs sign it; the query is not signed.
 */
"use strict";

// ---- SHA-256 and HMAC: WebCrypto where the page is a secure context (127.0.0.1, localhost, https),
// else this plain implementation (a dashboard opened over http on another host name has no crypto.subtle).

const K256 = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);

function ror(x, n) { return (x >>> n) | (x << (32 - n)); }

function sha256(msg) {
  const size = ((msg.length + 9 + 63) >> 6) << 6;
  const buf = new Uint8Array(size);
  buf.set(msg);
  buf[msg.length] = 0x80;
  const dv = new DataView(buf.buffer);
  dv.setUint32(size - 8, Math.floor(msg.length / 0x20000000));
  dv.setUint32(size - 4, (msg.length * 8) >>> 0);
  const H = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const W = new Uint32Array(64);
  for (let off = 0; off < size; off += 64) {
    for (let i = 0; i < 16; i++) W[i] = dv.getUint32(off + i * 4);
    for (let i = 16; i < 64; i++) {
      const x = W[i - 15], y = W[i - 2];
      W[i] = W[i - 16] + (ror(x, 7) ^ ror(x, 18) ^ (x >>> 3)) + W[i - 7] + (ror(y, 17) ^ ror(y, 19) ^ (y >>> 10));
    }
    let [a, b, c, d, e, f, g, h] = H;
    for (let i = 0; i < 64; i++) {
      const t1 = (h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + W[i]) | 0;
      const t2 = ((ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    H[0] += a; H[1] += b; H[2] += c; H[3] += d; H[4] += e; H[5] += f; H[6] += g; H[7] += h;
  }
  const out = new Uint8Array(32);
  const odv = new DataView(out.buffer);
  H.forEach((v, i) => odv.setUint32(i * 4, v));
  return out;
}

function hmacSha256(key, msg) {
  if (key.length > 64) key = sha256(key);
  const inner = new Uint8Array(64 + msg.length), outer = new Uint8Array(96);
  for (let i = 0; i < 64; i++) { const k = key[i] || 0; inner[i] = k ^ 0x36; outer[i] = k ^ 0x5c; }
  inner.set(msg, 64);
  outer.set(sha256(inner), 64);
  return sha256(outer);
}

async function hmacBase64(secret, text) {
  const enc = new TextEncoder();
  let digest;
  if (window.crypto && crypto.subtle && secret) {  // WebCrypto refuses an empty key
    const key = await crypto.subtle.importKey("raw", enc.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    digest = new Uint8Array(await crypto.subtle.sign("HMAC", key, enc.encode(text)));
  } else {
    digest = hmacSha256(enc.encode(secret), enc.encode(text));
  }
  let bin = "";
  digest.forEach((b) => { bin += String.fromCharCode(b); });
  return btoa(bin);
}

/* Adds X-Fc-Date and Authorization to `headers` (an object), signing `method` and the unencoded `path`. */
async function signFC(method, path, headers, key) {
  headers["X-Fc-Date"] = new Date().toUTCString();
  const fc = Object.entries(headers).map(([k, v]) => [k.toLowerCase(), String(v)])
    .filter(([k]) => k.startsWith("x-fc-")).sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  const type = Object.entries(headers).find(([k]) => k.toLowerCase() === "content-type");
  const toSign = [method, "", type ? type[1] : "", "", fc.map(([k, v]) => `${k}:${v}\n`).join("") + path].join("\n");
  headers.Authorization = `FC ${key.id}:${await hmacBase64(key.secret, toSign)}`;
}
