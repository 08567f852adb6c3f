// routes.ts: route identity: declared route patterns, matched against a normalised path.

/** pathOnly returns a request target without its query and fragment ("/a/b?x=1" -> "/a/b"), unchanged otherwise. */
export function pathOnly(url: string): string {
  let end = url.length;
  const q = url.indexOf("?");
  if (q >= 0) end = q;
  const h = url.indexOf("#");
  if (h >= 0 && h < end) end = h;
  return end === url.length ? url : url.slice(0, end);
}

/**
 * normalizePath reduces a request target to a path: the query and fragment
 * are dropped, repeated slashes collapse, a trailing slash is removed,
 * percent-encoded unreserved characters are decoded (`%6C` is `l`) and letters
 * are lower-cased, so `/a`, `/a/`, `/A`, `/%61` and `/a?x=1` are one path. It
 * errs towards matching: a spelling that reaches a handler must not escape that
 * route's rule (Express matches paths case-insensitively by default). It is
 * only ever matched against declared patterns; a raw path never names a bucket
 * by itself, so random paths cannot mint buckets.
 */
export function normalizePath(url: string): string {
  let path = pathOnly(url);
  // An absolute-form target ("http://host/a") keeps its path only.
  if (path.charCodeAt(0) !== 47 /* / */) {
    const scheme = path.indexOf("://");
    if (scheme >= 0) {
      const slash = path.indexOf("/", scheme + 3);
      path = slash < 0 ? "/" : path.slice(slash);
    } else {
      path = `/${path}`;
    }
  }
  if (path.includes("%")) path = path.replace(/%([0-9A-Fa-f]{2})/g, decodeUnreserved);
  if (path.includes("//")) path = path.replace(/\/{2,}/g, "/");
  if (path.length > 1 && path.charCodeAt(path.length - 1) === 47) path = path.slice(0, -1);
  return path.toLowerCase();
}

/** decodeUnreserved decodes a percent-encoded RFC 3986 unreserved character and keeps any other escape. */
function decodeUnreserved(encoded: string, hex: string): string {
  const c = String.fromCharCode(Number.parseInt(hex, 16));
  return /^[A-Za-z0-9\-._~]$/.test(c) ? c : encoded;
}

/** RoutePattern is a compiled route rule key such as "GET /users/:id" or "/files/*". */
export interface RoutePattern {
  /** key is the rule as written; it names the rule's bucket. */
  readonly key: string;
  /** method is the upper-case method, or undefined for any method. */
  readonly method: string | undefined;
  /** path is the normalised pattern path. */
  readonly path: string;
  readonly segments: readonly string[];
  readonly wildcard: boolean;
}

const METHOD = /^[A-Za-z]+$/;

/**
 * compileRoute reads a rule key: an optional method, a space, and a path in
 * which `:name` matches one non-empty segment and a final `*` matches the rest.
 */
export function compileRoute(key: string): RoutePattern | undefined {
  const trimmed = key.trim();
  const space = trimmed.indexOf(" ");
  let method: string | undefined;
  let path = trimmed;
  if (space > 0) {
    const m = trimmed.slice(0, space);
    if (!METHOD.test(m)) return undefined;
    method = m.toUpperCase();
    path = trimmed.slice(space + 1).trim();
  }
  if (path.charCodeAt(0) !== 47) return undefined;
  const norm = normalizePath(path);
  const segments = norm === "/" ? [] : norm.slice(1).split("/");
  const wildcard = segments[segments.length - 1] === "*";
  if (wildcard) segments.pop();
  if (segments.includes("*")) return undefined;
  return { key, method, path: norm, segments, wildcard };
}

/**
 * routeMatches reports whether a request matches a rule; `path` is a route
 * pattern ("/users/:id") or a URL path, already passed through normalizePath
 * (call it once per request, not once per rule).
 */
export function routeMatches(rule: RoutePattern, method: string, path: string): boolean {
  if (rule.method !== undefined && rule.method !== method && !(rule.method === "GET" && method === "HEAD")) {
    return false;
  }
  const norm = path;
  if (norm === rule.path) return true;
  const segs = norm === "/" ? [] : norm.slice(1).split("/");
  const pat = rule.segments;
  if (rule.wildcard ? segs.length < pat.length : segs.length !== pat.length) return false;
  for (let i = 0; i < pat.length; i++) {
    const p = pat[i] as string;
    const s = segs[i] as string;
    if (p.charCodeAt(0) === 58 /* : */) {
      if (s.length === 0) return false;
      continue;
    }
    if (p !== s) return false;
  }
  return true;
}
