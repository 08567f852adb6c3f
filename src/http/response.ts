// response.ts: writing an outcome's header fields on a response, merged with the fields of a limiter stacked before it.

import type { HeaderList } from "./headers.js";

/**
 * HeaderAccess reads and writes the header fields of one kind of response
 * (a node ServerResponse, a Fastify reply, a Koa context, a Web `Headers`).
 * `get` returns undefined for an unset field, several values joined with ", ".
 */
export interface HeaderAccess<T> {
  get(target: T, name: string): string | undefined;
  set(target: T, name: string, value: string): void;
}

/** HEADERS is the HeaderAccess of a Web `Headers` object (fetch handlers, Hono). */
export const HEADERS: HeaderAccess<Headers> = {
  get: (h, name) => h.get(name) ?? undefined,
  set: (h, name, value) => h.set(name, value),
};

/** writeHeaders sets every field of `headers` on `target`, replacing what was there. */
export function writeHeaders<T>(headers: HeaderList, target: T, access: HeaderAccess<T>): void {
  for (let i = 0; i < headers.length; i++) {
    // Perf: indexing, not destructuring (which runs the iterator protocol until optimised).
    const pair = headers[i] as [string, string];
    access.set(target, pair[0], pair[1]);
  }
}

/**
 * mergeHeaders sets the fields of `headers` on a response that another limiter
 * (stacked before or after this one: app-wide and per-route) has already
 * written to, so the response describes every limit the request passed:
 *
 * - `RateLimit-Policy`: each item is appended unless an item of the same name is
 *   already there. The same name with the same item text is the same policy (one
 *   item). The same name with another item is a collision: both items are kept,
 *   in order, and the name is returned so the caller can warn.
 * - `RateLimit`: each item is appended; for a policy already listed (same name,
 *   same policy) the tighter item stays: the smaller `r`, on a tie the larger `t`.
 * - `Retry-After`: the larger number of seconds.
 * - `X-RateLimit-Limit`, `-Remaining`, `-Reset`: the trio with the smaller
 *   remaining (they describe the tightest policy).
 * - any other field (Cache-Control, Content-Type of a 429) is set.
 *
 * It returns the names that collided, or undefined.
 */
export function mergeHeaders<T>(headers: HeaderList, target: T, access: HeaderAccess<T>): string[] | undefined {
  let samePolicy: Set<string> | undefined;
  let collisions: string[] | undefined;
  let keepLegacy: boolean | undefined;
  for (const [name, value] of headers) {
    switch (name.toLowerCase()) {
      case "ratelimit-policy": {
        const existing = access.get(target, name);
        if (existing === undefined || existing === "") {
          access.set(target, name, value);
          break;
        }
        const items = splitList(existing);
        const byName = new Map<string, string>();
        for (const item of items) if (!byName.has(itemName(item))) byName.set(itemName(item), item);
        samePolicy = new Set();
        for (const item of splitList(value)) {
          const n = itemName(item);
          const seen = byName.get(n);
          if (seen === item) {
            samePolicy.add(n);
            continue;
          }
          if (seen !== undefined) {
            collisions ??= [];
            collisions.push(unquote(n));
          }
          items.push(item);
        }
        access.set(target, name, items.join(", "));
        break;
      }
      case "ratelimit": {
        const existing = access.get(target, name);
        if (existing === undefined || existing === "") {
          access.set(target, name, value);
          break;
        }
        const items = splitList(existing);
        for (const item of splitList(value)) {
          const n = itemName(item);
          const at = samePolicy?.has(n) === true ? items.findIndex((x) => itemName(x) === n) : -1;
          if (at < 0) {
            items.push(item);
            continue;
          }
          const old = items[at] as string;
          const r = param(item, "r");
          const oldR = param(old, "r");
          if (r < oldR || (r === oldR && param(item, "t") > param(old, "t"))) items[at] = item;
        }
        access.set(target, name, items.join(", "));
        break;
      }
      case "retry-after": {
        const existing = Number(access.get(target, name));
        if (!(existing >= Number(value))) access.set(target, name, value);
        break;
      }
      case "x-ratelimit-limit":
      case "x-ratelimit-remaining":
      case "x-ratelimit-reset": {
        if (keepLegacy === undefined) {
          const existing = access.get(target, "X-RateLimit-Remaining");
          const incoming = headers.find(([k]) => k.toLowerCase() === "x-ratelimit-remaining")?.[1];
          keepLegacy = existing !== undefined && existing !== "" && Number(existing) <= Number(incoming);
        }
        if (!keepLegacy) access.set(target, name, value);
        break;
      }
      default:
        access.set(target, name, value);
    }
  }
  return collisions;
}

/** splitList splits a structured-field List into its items' text, at commas outside sf-strings. */
export function splitList(field: string): string[] {
  const items: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < field.length; i++) {
    const c = field.charCodeAt(i);
    if (quoted) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) quoted = false;
    } else if (c === 34) {
      quoted = true;
    } else if (c === 44 /* , */) {
      const item = field.slice(start, i).trim();
      if (item !== "") items.push(item);
      start = i + 1;
    }
  }
  const last = field.slice(start).trim();
  if (last !== "") items.push(last);
  return items;
}

/** itemName is the bare item of a List member: its text up to the first parameter (`"api"` of `"api";q=10`). */
function itemName(item: string): string {
  let quoted = false;
  for (let i = 0; i < item.length; i++) {
    const c = item.charCodeAt(i);
    if (quoted) {
      if (c === 92) i++;
      else if (c === 34) quoted = false;
    } else if (c === 34) {
      quoted = true;
    } else if (c === 59 /* ; */) {
      return item.slice(0, i).trim();
    }
  }
  return item.trim();
}

/** unquote returns the text of an sf-string item name, or the name as is. */
function unquote(name: string): string {
  return name.length >= 2 && name.startsWith('"') && name.endsWith('"')
    ? name.slice(1, -1).replace(/\\(.)/g, "$1")
    : name;
}

/** param reads an integer parameter (`;r=5`) of an item, after its name; NaN when absent. */
function param(item: string, key: "r" | "t"): number {
  const m = (key === "r" ? R_PARAM : T_PARAM).exec(item.slice(itemName(item).length));
  return m ? Number(m[1]) : Number.NaN;
}

const R_PARAM = /;\s*r=(\d+)/;
const T_PARAM = /;\s*t=(\d+)/;
