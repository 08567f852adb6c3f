// replay.test.ts: replay reads real-world log samples (IPv6 hosts, odd dates, junk lines) in every format, streamed.

import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { parseAccessDate, replay } from "../../src/simulate/index.js";
import { readAll } from "./helpers.js";

const dir = resolve(import.meta.dirname, "../../.tmp/replay-test");
mkdirSync(dir, { recursive: true });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, text: string | Buffer): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

// Lines as Apache, nginx and others write them, with the junk real logs carry.
const ACCESS_LOG = [
  '203.0.113.7 - - [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326',
  '2001:db8::1 - frank [10/Oct/2000:13:55:37 -0700] "POST /login HTTP/1.1" 302 -',
  '2001:DB8:0:0:8:800:200C:417A - - [10/Oct/2000:20:55:38 +0000] "GET / HTTP/1.1" 200 512',
  '::ffff:198.51.100.2 - - [1/oct/2000:01:02:03 +05:30] "GET /a HTTP/1.1" 404 0',
  '198.51.100.9 - - [29/Feb/2024:23:59:60 +0000] "GET /leap HTTP/2.0" 200 7',
  '198.51.100.9 - - [29/Feb/2024:12:00:00.250 Z] "GET /frac HTTP/2.0" 200 7',
  '203.0.113.7 - - [30/Feb/2024:12:00:00 +0000] "GET /no-such-day HTTP/1.1" 200 1',
  "this is not a log line",
  "",
  '\u0000\u0001\u0002 binary junk "\u00ff"',
  '203.0.113.8 - - [10/Oct/2000:13:55:36 -0700] "GET /truncated HTTP/1.0',
  '203.0.113.9 - - [10/Oct/2000:13:55:39 -0700] "GET /quote\\"in\\"path HTTP/1.0" 200 12 "https://ref.example/" "Mozilla/5.0 (X11; \\"odd\\" agent)"',
].join("\n");

describe("parseAccessDate", () => {
  const rows: [string, number, string][] = [
    ["10/Oct/2000:13:55:36 -0700", Date.UTC(2000, 9, 10, 20, 55, 36), "the CLF example, a negative zone"],
    [
      "1/oct/2000:01:02:03 +05:30",
      Date.UTC(2000, 9, 1, 1, 2, 3) - 330 * 60_000,
      "one-digit day, lowercase month, zone with a colon",
    ],
    [
      "29/Feb/2024:23:59:60 +0000",
      Date.UTC(2024, 2, 1, 0, 0, 0),
      "a leap day and a leap second (the next second's start)",
    ],
    ["29/Feb/2024:12:00:00.250 Z", Date.UTC(2024, 1, 29, 12, 0, 0, 250), "a fraction of a second and Z"],
    ["05/Jan/2024:07:08:09", Date.UTC(2024, 0, 5, 7, 8, 9), "no zone: UTC"],
    ["30/Feb/2024:12:00:00 +0000", Number.NaN, "no such day"],
    ["29/Feb/2023:12:00:00 +0000", Number.NaN, "not a leap year"],
    ["10/Foo/2000:13:55:36 -0700", Number.NaN, "no such month"],
    ["10/Oct/2000:24:00:00 -0700", Number.NaN, "hour 24"],
    ["10/Oct/2000 13:55:36", Number.NaN, "not the access log form"],
  ];
  for (const [text, want, why] of rows) {
    it(`${text}: ${why}`, () => {
      expect(parseAccessDate(text)).toBe(want);
    });
  }
});

describe("replay", () => {
  it("reads a common/combined log: IPv4 and IPv6 hosts as keys, odd dates, escaped quotes; junk counted and quoted", async () => {
    const traffic = replay(file("access.log", ACCESS_LOG), { format: "combined", examples: 3 });
    const reqs = await readAll(traffic);
    expect(reqs).toEqual([
      { key: "203.0.113.7", timeMs: Date.UTC(2000, 9, 10, 20, 55, 36), cost: 1 },
      { key: "2001:db8::1", timeMs: Date.UTC(2000, 9, 10, 20, 55, 37), cost: 1 },
      { key: "2001:db8:0:0:8:800:200c:417a", timeMs: Date.UTC(2000, 9, 10, 20, 55, 38), cost: 1 },
      { key: "::ffff:198.51.100.2", timeMs: Date.UTC(2000, 9, 1, 1, 2, 3) - 330 * 60_000, cost: 1 },
      { key: "198.51.100.9", timeMs: Date.UTC(2024, 2, 1), cost: 1 },
      { key: "198.51.100.9", timeMs: Date.UTC(2024, 1, 29, 12, 0, 0, 250), cost: 1 },
      { key: "203.0.113.9", timeMs: Date.UTC(2000, 9, 10, 20, 55, 39), cost: 1 },
    ]);
    const issues = traffic.issues?.();
    expect(issues?.skipped).toBe(5);
    expect(issues?.examples).toEqual([
      { line: 7, text: ACCESS_LOG.split("\n")[6], reason: "bad date [30/Feb/2024:12:00:00 +0000]" },
      { line: 8, text: "this is not a log line", reason: "not a combined log line" },
      { line: 9, text: "", reason: "blank line" },
    ]);
  });

  it("reads JSON lines: ISO and epoch times, numeric keys, a cost; junk counted", async () => {
    const log = [
      '{"timestamp":"2024-05-01T10:00:00Z","key":"user:1","cost":3}',
      '{"time":1714557600500,"key":42}',
      '{"ts":"2024-05-01T10:00:01.250+02:00","key":"user:2"}',
      '{"timestamp":"yesterday","key":"x"}',
      '{"timestamp":"2024-05-01T10:00:00Z"}',
      '{"timestamp":"2024-05-01T10:00:00Z","key":"y","cost":1.5}',
      "[1,2,3]",
      "{not json",
    ].join("\r\n");
    const traffic = replay(file("log.jsonl", log), { format: "jsonl" });
    expect(await readAll(traffic)).toEqual([
      { key: "user:1", timeMs: Date.UTC(2024, 4, 1, 10), cost: 3 },
      { key: "42", timeMs: 1714557600500, cost: 1 },
      { key: "user:2", timeMs: Date.UTC(2024, 4, 1, 8, 0, 1, 250), cost: 1 },
    ]);
    expect(traffic.issues?.().skipped).toBe(5);
    expect(traffic.issues?.().examples.map((e) => e.reason)).toEqual([
      'bad time "yesterday"',
      'no "key" field',
      "bad cost 1.5",
      "not a JSON object",
      "not JSON",
    ]);
  });

  it("reads CSV: a header, quoted keys with commas and quotes, an optional cost; junk counted", async () => {
    const log = [
      "timestamp,key,cost",
      "1000,alice,2",
      '2000,"bob, the ""builder""",1',
      "2024-05-01T10:00:00Z,carol",
      "3000,dave,-1",
      "nonsense",
      "4000,erin,1,extra",
    ].join("\n");
    const traffic = replay(file("log.csv", log), { format: "csv" });
    expect(await readAll(traffic)).toEqual([
      { key: "alice", timeMs: 1000, cost: 2 },
      { key: 'bob, the "builder"', timeMs: 2000, cost: 1 },
      { key: "carol", timeMs: Date.UTC(2024, 4, 1, 10), cost: 1 },
    ]);
    expect(traffic.issues?.().skipped).toBe(3);
  });

  it("reads a gzipped log", async () => {
    const traffic = replay(file("access.log.gz", gzipSync(ACCESS_LOG)), { format: "clf" });
    // The combined line is also a valid common line (the rest of the line is ignored).
    expect((await readAll(traffic)).length).toBe(7);
  });

  it("streams: the first batch arrives long before the source is exhausted (bounded memory)", async () => {
    const total = 200_000;
    let produced = 0;
    function* lines(): Generator<string> {
      for (let i = 0; i < total; i++) {
        produced++;
        yield `${i},k${i % 1000},1\n`;
      }
    }
    const traffic = replay(() => Readable.from(lines()), { format: "csv" });
    let producedAtFirstBatch = -1;
    let read = 0;
    for await (const b of traffic.batches()) {
      if (producedAtFirstBatch < 0) producedAtFirstBatch = produced;
      read += b.length;
    }
    expect(read).toBe(total);
    // One batch is 8192 requests; the stream may read ahead by its buffers, never the whole source.
    expect(producedAtFirstBatch).toBeLessThan(total / 4);
  });

  it("a log that cannot be read is a coded error naming the path", async () => {
    const traffic = replay(join(dir, "missing.log"), { format: "clf" });
    await expect(readAll(traffic)).rejects.toThrow(
      /replay\(".*missing\.log"\) cannot read the file \(ENOENT\); check the path/,
    );
  });

  it("refuses a bad format with the choices", () => {
    expect(() => replay("x.log", { format: "apache" as never })).toThrow(/format.*clf, combined, jsonl, csv.*"apache"/);
  });
});
