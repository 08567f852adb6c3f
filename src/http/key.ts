// key.ts: unambiguous store keys from parts, and a synchronous SHA-256 that runs on every runtime.

/**
 * KeyPart is one part of a client's identity: a string (or number) used as is,
 * or `{ secret }` for a credential such as an API key, which is hashed with
 * SHA-256 before it reaches a store, a log or a header.
 */
export type KeyPart = string | number | { readonly secret: string };

/** MAX_KEY_CHARS is the longest key kept as text; a longer one is replaced by its SHA-256. */
export const MAX_KEY_CHARS = 256;

/**
 * joinKey joins parts so that different part lists never give the same key:
 * each part is written as its length, a colon and its text (`3:api5:user1`).
 * A key longer than MAX_KEY_CHARS is replaced by `#` and its SHA-256, so a
 * megabyte of header text cannot bloat a store.
 */
export function joinKey(parts: readonly KeyPart[]): string {
  let key = "";
  for (const p of parts) {
    const s = typeof p === "object" ? hashSecret(p.secret) : String(p);
    key += `${s.length}:${s}`;
  }
  return key.length > MAX_KEY_CHARS ? `#${sha256Base64Url(key)}` : key;
}

/**
 * hashSecret returns `sha256:` and the base64url SHA-256 of a secret. The raw
 * value never appears in a key. It is synchronous and needs no runtime module,
 * so it works in Node, Bun, Deno and Cloudflare Workers alike (WebCrypto's
 * `crypto.subtle.digest` is asynchronous only).
 */
export function hashSecret(secret: string): string {
  return `sha256:${sha256Base64Url(secret)}`;
}

const encoder = new TextEncoder();

/** sha256Base64Url hashes the UTF-8 bytes of a string and returns the digest in base64url, unpadded. */
export function sha256Base64Url(text: string): string {
  const d = sha256(encoder.encode(text));
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  let out = "";
  for (let i = 0; i < d.length; i += 3) {
    const a = d[i] as number;
    const b = i + 1 < d.length ? (d[i + 1] as number) : 0;
    const c = i + 2 < d.length ? (d[i + 2] as number) : 0;
    const n = (a << 16) | (b << 8) | c;
    out += alphabet[(n >>> 18) & 63];
    out += alphabet[(n >>> 12) & 63];
    if (i + 1 < d.length) out += alphabet[(n >>> 6) & 63];
    if (i + 2 < d.length) out += alphabet[n & 63];
  }
  return out;
}

// SHA-256 round constants: the first 32 bits of the fractional parts of the cube roots of the first 64 primes.
const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);

/** sha256 is FIPS 180-4 SHA-256 of a byte array. */
export function sha256(bytes: Uint8Array): Uint8Array {
  const bitLength = bytes.length * 8;
  const padded = new Uint8Array(((bytes.length + 9 + 63) >> 6) << 6);
  padded.set(bytes);
  padded[bytes.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(bitLength / 0x100000000));
  view.setUint32(padded.length - 4, bitLength >>> 0);
  const h = new Uint32Array([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
  ]);
  const w = new Uint32Array(64);
  for (let off = 0; off < padded.length; off += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(off + i * 4);
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15] as number;
      const y = w[i - 2] as number;
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[i] = ((w[i - 16] as number) + s0 + (w[i - 7] as number) + s1) >>> 0;
    }
    let a = h[0] as number;
    let b = h[1] as number;
    let c = h[2] as number;
    let d = h[3] as number;
    let e = h[4] as number;
    let f = h[5] as number;
    let g = h[6] as number;
    let hh = h[7] as number;
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (hh + S1 + ch + (K[i] as number) + (w[i] as number)) >>> 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) >>> 0;
      hh = g;
      g = f;
      f = e;
      e = (d + t1) >>> 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) >>> 0;
    }
    h[0] = ((h[0] as number) + a) >>> 0;
    h[1] = ((h[1] as number) + b) >>> 0;
    h[2] = ((h[2] as number) + c) >>> 0;
    h[3] = ((h[3] as number) + d) >>> 0;
    h[4] = ((h[4] as number) + e) >>> 0;
    h[5] = ((h[5] as number) + f) >>> 0;
    h[6] = ((h[6] as number) + g) >>> 0;
    h[7] = ((h[7] as number) + hh) >>> 0;
  }
  const out = new Uint8Array(32);
  const ov = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) ov.setUint32(i * 4, h[i] as number);
  return out;
}
