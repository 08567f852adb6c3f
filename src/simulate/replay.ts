// replay.ts: real traffic from logs (common and combined access logs, JSON lines, CSV), streamed line by line.

import { createReadStream, statSync } from "node:fs";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { describe, FloodgateTypeError } from "../core/errors.js";
import { checkOptions } from "../core/validate.js";
import { BATCH_SIZE, type Batch, newBatch, type Traffic, type TrafficIssues } from "./traffic.js";

/** LogFormat names the formats `replay` reads. */
export type LogFormat = "clf" | "combined" | "jsonl" | "csv";

/** LOG_FORMATS lists the formats, for messages. */
export const LOG_FORMATS: readonly LogFormat[] = ["clf", "combined", "jsonl", "csv"];

/** ReplayOptions configures `replay`. */
export interface ReplayOptions {
  /**
   * format of the log:
   * - "clf": the common log format, `host ident user [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 2326`;
   * - "combined": the same with `"referer" "user-agent"` after it (a common line is read too);
   * - "jsonl": one JSON object per line with a time, a key and an optional cost (see the field options);
   * - "csv": `timestamp,key,cost` per line (cost optional; a first line that is a header is skipped).
   * Access logs key requests by the client host as written (IPv4 or IPv6) and cost 1 each.
   */
  format: LogFormat;
  /** timeField is the JSON field holding the time ("jsonl"). Default: the first of "timestamp", "time", "ts". */
  timeField?: string;
  /** keyField is the JSON field holding the client key ("jsonl"). Default "key". */
  keyField?: string;
  /** costField is the JSON field holding the cost ("jsonl"). Default "cost"; missing means 1. */
  costField?: string;
  /** examples is how many skipped lines are quoted in the issues. Default 5. */
  examples?: number;
}

/** ParsedLine is a request read from one line, or the reason it is not one. */
export type ParsedLine = { timeMs: number; key: string; cost: number } | { error: string };

const MONTHS: Record<string, number> = {
  jan: 0,
  feb: 1,
  mar: 2,
  apr: 3,
  may: 4,
  jun: 5,
  jul: 6,
  aug: 7,
  sep: 8,
  oct: 9,
  nov: 10,
  dec: 11,
};

// An access log line: host ident user [date] "request" status bytes, then optionally "referer" "agent".
// The request, referer and agent are quoted strings in which \" and \\ are escapes (Apache and nginx).
const ACCESS =
  /^(\S+) \S+ \S+ \[([^\]]+)\] "(?:[^"\\]|\\.)*" (?:\d{3}|-) (?:\d+|-)(?: "(?:[^"\\]|\\.)*" "(?:[^"\\]|\\.)*")?/;
// The access log date: 10/Oct/2000:13:55:36 -0700, with an optional fraction of a second and zone.
const ACCESS_DATE =
  /^(\d{1,2})\/([A-Za-z]{3})\/(\d{4}):(\d{1,2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(?:\s*(?:([+-])(\d{2}):?(\d{2})|Z|UTC|GMT))?$/;

/**
 * parseAccessDate returns the epoch milliseconds of an access log date such as
 * `10/Oct/2000:13:55:36 -0700`, or NaN when it is not a real date. The month is
 * read in any case; a one-digit day or hour, a fraction of a second, a zone
 * written `+05:30`, `Z` or none (UTC) are accepted; a leap second (`:60`) counts
 * as the next second's start. A day the month does not have (30/Feb) is refused.
 */
export function parseAccessDate(text: string): number {
  const m = ACCESS_DATE.exec(text.trim());
  if (m === null) return Number.NaN;
  const day = Number(m[1]);
  const month = MONTHS[(m[2] as string).toLowerCase()];
  const year = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6]);
  if (month === undefined || hour > 23 || minute > 59 || second > 60 || day < 1) return Number.NaN;
  const daysInMonth = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  if (day > daysInMonth) return Number.NaN;
  const fraction = m[7] === undefined ? 0 : Number(`0.${m[7]}`) * 1000;
  let offsetMin = 0;
  if (m[8] !== undefined) {
    const sign = m[8] === "-" ? -1 : 1;
    const h = Number(m[9]);
    const mm = Number(m[10]);
    if (h > 14 || mm > 59) return Number.NaN;
    offsetMin = sign * (h * 60 + mm);
  }
  return Date.UTC(year, month, day, hour, minute, second) + fraction - offsetMin * 60_000;
}

/** parseTime reads a time from JSON or CSV: a number of epoch milliseconds, or an ISO 8601 / RFC 3339 string. */
function parseTime(value: unknown): number {
  if (typeof value === "number") return Number.isFinite(value) ? value : Number.NaN;
  if (typeof value !== "string") return Number.NaN;
  const s = value.trim();
  if (s === "") return Number.NaN;
  if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s);
  // ISO dates only: Date.parse alone accepts many loose forms ("1", "March 7").
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/i.test(s)) return Number.NaN;
  return Date.parse(s.includes(" ") ? s.replace(" ", "T") : s);
}

/** parseCost reads a cost: missing or empty is 1; otherwise a whole number >= 0. */
function parseCost(value: unknown): number {
  if (value === undefined || value === null || value === "") return 1;
  const n = typeof value === "number" ? value : typeof value === "string" ? Number(value.trim()) : Number.NaN;
  return Number.isInteger(n) && n >= 0 ? n : Number.NaN;
}

/** parseAccessLine reads a common or combined access log line. */
export function parseAccessLine(line: string, combined: boolean): ParsedLine {
  const m = ACCESS.exec(line);
  if (m === null) return { error: combined ? "not a combined log line" : "not a common log line" };
  const timeMs = parseAccessDate(m[2] as string);
  if (Number.isNaN(timeMs)) return { error: `bad date [${m[2]}]` };
  return { timeMs, key: (m[1] as string).toLowerCase(), cost: 1 };
}

/** parseJsonLine reads one JSON lines record. */
export function parseJsonLine(
  line: string,
  timeField: string | undefined,
  keyField: string,
  costField: string,
): ParsedLine {
  let x: unknown;
  try {
    x = JSON.parse(line);
  } catch {
    return { error: "not JSON" };
  }
  if (typeof x !== "object" || x === null || Array.isArray(x)) return { error: "not a JSON object" };
  const rec = x as Record<string, unknown>;
  const tf = timeField ?? ["timestamp", "time", "ts"].find((f) => rec[f] !== undefined);
  if (tf === undefined) return { error: 'no "timestamp", "time" or "ts" field' };
  const timeMs = parseTime(rec[tf]);
  if (Number.isNaN(timeMs)) return { error: `bad time ${describe(rec[tf])}` };
  const key = rec[keyField];
  if ((typeof key !== "string" && typeof key !== "number") || key === "") return { error: `no "${keyField}" field` };
  const cost = parseCost(rec[costField]);
  if (Number.isNaN(cost)) return { error: `bad cost ${describe(rec[costField])}` };
  return { timeMs, key: String(key), cost };
}

/** splitCsv splits one CSV line into fields; double-quoted fields may hold commas and doubled quotes. */
function splitCsv(line: string): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let s = "";
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) return undefined;
        s += line.slice(i, q);
        if (line[q + 1] === '"') {
          s += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      out.push(s);
      if (i >= line.length) return out;
      if (line[i] !== ",") return undefined;
      i++;
    } else {
      const c = line.indexOf(",", i);
      if (c < 0) {
        out.push(line.slice(i));
        return out;
      }
      out.push(line.slice(i, c));
      i = c + 1;
    }
  }
}

/** parseCsvLine reads one `timestamp,key,cost` line. */
export function parseCsvLine(line: string): ParsedLine {
  const f = splitCsv(line);
  if (f === undefined || f.length < 2 || f.length > 3) return { error: "not timestamp,key[,cost]" };
  const timeMs = parseTime(f[0]);
  if (Number.isNaN(timeMs)) return { error: `bad time ${describe(f[0])}` };
  if (f[1] === "") return { error: "empty key" };
  const cost = parseCost(f[2]);
  if (Number.isNaN(cost)) return { error: `bad cost ${describe(f[2])}` };
  return { timeMs, key: f[1] as string, cost };
}

/** ReplaySource is a log file path (a `.gz` file is decompressed) or a function that opens the log as a stream. */
export type ReplaySource = string | (() => Readable);

/**
 * replay returns the requests of a log as Traffic, read line by line from a
 * stream: memory stays bounded whatever the log's size (a batch of 8192
 * requests at a time). Lines that do not parse (junk, a bad date, a bad cost,
 * blank lines) are skipped and counted; the first few are quoted in
 * `issues()`. A log is usually in time order; a request logged earlier than
 * one before it is run at the later time (the simulation's clock, like the
 * limiter's, never goes backwards).
 *
 * @example
 * const traffic = replay("/var/log/nginx/access.log", { format: "combined" });
 */
export function replay(source: ReplaySource, options: ReplayOptions): Traffic {
  const o = checkOptions("replay", options, ["format", "timeField", "keyField", "costField", "examples"]);
  const format = o.format as LogFormat;
  if (!LOG_FORMATS.includes(format)) {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: replay({ format }) must be one of ${LOG_FORMATS.join(", ")}, got ${describe(o.format)}.`,
    );
  }
  for (const f of ["timeField", "keyField", "costField"] as const) {
    if (o[f] !== undefined && typeof o[f] !== "string") {
      throw new FloodgateTypeError(
        "ERR_INVALID_OPTION",
        `floodgate: replay({ ${f} }) must be a field name, got ${describe(o[f])}.`,
      );
    }
  }
  if (typeof source !== "string" && typeof source !== "function") {
    throw new FloodgateTypeError(
      "ERR_INVALID_OPTION",
      `floodgate: replay(source) needs a file path or a function returning a readable stream, got ${describe(source)}.`,
    );
  }
  const keep = typeof o.examples === "number" && o.examples >= 0 ? o.examples : 5;
  const timeField = o.timeField as string | undefined;
  const keyField = (o.keyField as string | undefined) ?? "key";
  const costField = (o.costField as string | undefined) ?? "cost";
  const parse: (line: string) => ParsedLine =
    format === "jsonl"
      ? (line) => parseJsonLine(line, timeField, keyField, costField)
      : format === "csv"
        ? parseCsvLine
        : (line) => parseAccessLine(line, format === "combined");
  let issues: TrafficIssues = { skipped: 0, examples: [] };
  return {
    description: `${format} log ${typeof source === "string" ? source : "(stream)"}`,
    issues: () => issues,
    async *batches(progress) {
      issues = { skipped: 0, examples: [] };
      const current = issues;
      const skip = (line: number, text: string, reason: string): void => {
        current.skipped++;
        if (current.examples.length < keep) {
          current.examples.push({ line, text: text.length > 200 ? `${text.slice(0, 200)}…` : text, reason });
        }
      };
      let stream: Readable;
      let totalBytes = 0;
      if (typeof source === "string") {
        try {
          totalBytes = statSync(source).size;
        } catch (err) {
          throw new FloodgateTypeError(
            "ERR_INVALID_OPTION",
            `floodgate: replay(${JSON.stringify(source)}) cannot read the file (${(err as { code?: string }).code ?? String(err)}); check the path.`,
            { cause: err },
          );
        }
        const file = createReadStream(source);
        stream = source.endsWith(".gz") ? file.pipe(createGunzip()) : file;
        if (progress) {
          let read = 0;
          file.on("data", (chunk) => {
            read += chunk.length;
            progress(read / totalBytes);
          });
        }
      } else {
        stream = source();
      }
      const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
      const batch: Batch = newBatch();
      let i = 0;
      let n = 0;
      try {
        for await (const raw of lines) {
          n++;
          const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
          if (line.trim() === "") {
            skip(n, line, "blank line");
            continue;
          }
          const r = parse(line);
          if ("error" in r) {
            // A CSV header (its first field is not a time) is not junk.
            if (format === "csv" && n === 1 && /^[A-Za-z_"]/.test(line)) continue;
            skip(n, line, r.error);
            continue;
          }
          batch.timeMs[i] = r.timeMs;
          batch.cost[i] = r.cost;
          batch.key[i] = r.key;
          if (++i === BATCH_SIZE) {
            batch.length = i;
            yield batch;
            i = 0;
          }
        }
      } finally {
        lines.close();
        stream.destroy();
      }
      if (i > 0) {
        batch.length = i;
        yield batch;
      }
      progress?.(1);
    },
  };
}
