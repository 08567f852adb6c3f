// structured.ts: a small, strict RFC 9651 parser for the Lists and Dictionaries that rate limit headers use.

/**
 * BareItem is a parsed RFC 9651 bare item. Integers, decimals and dates are
 * numbers; strings, tokens, byte sequences (still base64) and display strings
 * are tagged so a caller can tell `"default"` from `default`.
 */
export type BareItem =
  | { readonly type: "integer"; readonly value: number }
  | { readonly type: "decimal"; readonly value: number }
  | { readonly type: "string"; readonly value: string }
  | { readonly type: "token"; readonly value: string }
  | { readonly type: "bytes"; readonly value: string }
  | { readonly type: "boolean"; readonly value: boolean }
  | { readonly type: "date"; readonly value: number }
  | { readonly type: "displaystring"; readonly value: string };

/** Params are an item's parameters, in order; a later duplicate key replaces an earlier one. */
export type Params = ReadonlyMap<string, BareItem>;

/** Member is one List or Dictionary member: an item or an inner list, with its parameters. */
export interface Member {
  readonly item: BareItem | null;
  /** inner holds the items of an inner list; null for a plain item. */
  readonly inner: readonly { item: BareItem; params: Params }[] | null;
  readonly params: Params;
}

/** MAX_FIELD_LENGTH bounds the input: longer values are refused rather than parsed. */
export const MAX_FIELD_LENGTH = 16 * 1024;

class ParseError extends Error {}

/**
 * parseList parses an RFC 9651 List. It returns null for any syntax error
 * (the spec says a malformed field is ignored as a whole), for values longer
 * than MAX_FIELD_LENGTH, and for an empty value.
 */
export function parseList(input: string): Member[] | null {
  return run(input, (p) => {
    const out: Member[] = [];
    while (!p.done()) {
      out.push(p.member());
      if (!p.nextMember()) break;
    }
    return out;
  });
}

/**
 * parseDictionary parses an RFC 9651 Dictionary into a Map (a later duplicate
 * key replaces an earlier one). A key without `=` is boolean true. It returns
 * null for any syntax error, for oversize values and for an empty value.
 */
export function parseDictionary(input: string): Map<string, Member> | null {
  return run(input, (p) => {
    const out = new Map<string, Member>();
    while (!p.done()) {
      const key = p.key();
      if (p.peek() === "=") {
        p.i++;
        out.set(key, p.member());
      } else {
        out.set(key, { item: { type: "boolean", value: true }, inner: null, params: p.params() });
      }
      if (!p.nextMember()) break;
    }
    return out;
  });
}

function run<T>(input: string, body: (p: Parser) => T): T | null {
  if (typeof input !== "string" || input.length > MAX_FIELD_LENGTH) return null;
  const p = new Parser(input);
  try {
    p.skipSP();
    if (p.done()) return null;
    const out = body(p);
    p.skipSP();
    if (!p.done()) return null;
    return out;
  } catch (err) {
    if (err instanceof ParseError) return null;
    throw err;
  }
}

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z:/]/;
const KEY_CHAR = /[a-z0-9_\-.*]/;
const BASE64_CHAR = /[A-Za-z0-9+/=]/;

class Parser {
  i = 0;
  constructor(readonly s: string) {}

  done(): boolean {
    return this.i >= this.s.length;
  }
  peek(): string {
    return this.s[this.i] ?? "";
  }
  fail(): never {
    throw new ParseError();
  }
  skipSP(): void {
    while (this.s[this.i] === " ") this.i++;
  }
  skipOWS(): void {
    while (this.s[this.i] === " " || this.s[this.i] === "\t") this.i++;
  }

  /** nextMember consumes the separator after a member: false at the end of input. */
  nextMember(): boolean {
    this.skipOWS();
    if (this.done()) return false;
    if (this.peek() !== ",") this.fail();
    this.i++;
    this.skipOWS();
    if (this.done()) this.fail(); // a trailing comma is an error
    return true;
  }

  member(): Member {
    if (this.peek() === "(") {
      this.i++;
      const inner: { item: BareItem; params: Params }[] = [];
      for (;;) {
        this.skipSP();
        if (this.peek() === ")") {
          this.i++;
          return { item: null, inner, params: this.params() };
        }
        const item = this.bareItem();
        inner.push({ item, params: this.params() });
        const c = this.peek();
        if (c !== " " && c !== ")") this.fail();
      }
    }
    const item = this.bareItem();
    return { item, inner: null, params: this.params() };
  }

  params(): Params {
    const out = new Map<string, BareItem>();
    while (this.peek() === ";") {
      this.i++;
      this.skipSP();
      const key = this.key();
      let value: BareItem = { type: "boolean", value: true };
      if (this.peek() === "=") {
        this.i++;
        value = this.bareItem();
      }
      out.set(key, value);
    }
    return out;
  }

  key(): string {
    const start = this.i;
    const c = this.peek();
    if (!(c === "*" || (c >= "a" && c <= "z"))) this.fail();
    this.i++;
    while (!this.done() && KEY_CHAR.test(this.peek())) this.i++;
    return this.s.slice(start, this.i);
  }

  bareItem(): BareItem {
    const c = this.peek();
    if (c === "-" || (c >= "0" && c <= "9")) return this.number();
    if (c === '"') return { type: "string", value: this.string() };
    if (c === "*" || (c >= "a" && c <= "z") || (c >= "A" && c <= "Z")) return this.token();
    if (c === ":") return this.bytes();
    if (c === "?") return this.boolean();
    if (c === "@") {
      this.i++;
      const n = this.number();
      if (n.type !== "integer") this.fail();
      return { type: "date", value: n.value };
    }
    if (c === "%") return this.displayString();
    return this.fail();
  }

  number(): BareItem {
    let sign = 1;
    if (this.peek() === "-") {
      sign = -1;
      this.i++;
    }
    const start = this.i;
    let dot = -1;
    while (!this.done()) {
      const c = this.peek();
      if (c >= "0" && c <= "9") {
        this.i++;
      } else if (c === "." && dot < 0) {
        dot = this.i;
        this.i++;
      } else {
        break;
      }
    }
    const text = this.s.slice(start, this.i);
    if (text.length === 0 || !/^[0-9]/.test(text)) this.fail();
    if (dot < 0) {
      if (text.length > 15) this.fail();
      return { type: "integer", value: sign * Number(text) };
    }
    const intPart = dot - start;
    const fracPart = this.i - dot - 1;
    if (intPart > 12 || fracPart < 1 || fracPart > 3) this.fail();
    return { type: "decimal", value: sign * Number(text) };
  }

  string(): string {
    this.i++; // opening quote
    let out = "";
    for (;;) {
      if (this.done()) this.fail();
      const c = this.s[this.i++] as string;
      if (c === "\\") {
        const n = this.s[this.i++];
        if (n !== '"' && n !== "\\") this.fail();
        out += n;
      } else if (c === '"') {
        return out;
      } else {
        const code = c.charCodeAt(0);
        if (code < 0x20 || code > 0x7e) this.fail();
        out += c;
      }
    }
  }

  token(): BareItem {
    const start = this.i;
    this.i++;
    while (!this.done() && TOKEN_CHAR.test(this.peek())) this.i++;
    return { type: "token", value: this.s.slice(start, this.i) };
  }

  bytes(): BareItem {
    this.i++;
    const start = this.i;
    while (!this.done() && this.peek() !== ":") {
      if (!BASE64_CHAR.test(this.peek())) this.fail();
      this.i++;
    }
    if (this.done()) this.fail();
    const value = this.s.slice(start, this.i);
    this.i++;
    return { type: "bytes", value };
  }

  boolean(): BareItem {
    this.i++;
    const c = this.s[this.i++];
    if (c === "1") return { type: "boolean", value: true };
    if (c === "0") return { type: "boolean", value: false };
    return this.fail();
  }

  displayString(): BareItem {
    this.i++;
    if (this.s[this.i++] !== '"') this.fail();
    const bytes: number[] = [];
    for (;;) {
      if (this.done()) this.fail();
      const c = this.s[this.i++] as string;
      const code = c.charCodeAt(0);
      if (c === '"') break;
      if (c === "%") {
        const hex = this.s.slice(this.i, this.i + 2);
        if (!/^[0-9a-f]{2}$/.test(hex)) this.fail();
        bytes.push(Number.parseInt(hex, 16));
        this.i += 2;
      } else {
        if (code < 0x20 || code > 0x7e) this.fail();
        bytes.push(code);
      }
    }
    try {
      return { type: "displaystring", value: new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array(bytes)) };
    } catch {
      return this.fail();
    }
  }
}
