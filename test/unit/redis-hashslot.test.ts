// redis-hashslot.test.ts: hashSlot gives the slot Redis Cluster gives (CRC16/XMODEM of the tag's UTF-8 bytes, mod 16384).

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hashSlot } from "../../src/stores/redis/keys.js";

/** referenceSlot is an independent CRC16/XMODEM, bit by bit over the UTF-8 bytes (no table). */
function referenceSlot(tag: string): number {
  let crc = 0;
  for (const b of Buffer.from(tag, "utf8")) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

describe("hashSlot", () => {
  // Each row: CLUSTER KEYSLOT on redis-server 7.0.15, and why the row is there.
  const rows: [tag: string, slot: number, why: string][] = [
    ["123456789", 12739, "the CRC16/XMODEM check value"],
    ["foo", 12182, "Redis Cluster spec example"],
    ["bar", 5061, "ASCII"],
    ["hello", 866, "ASCII"],
    ["user:1000", 1649, "a typical user key"],
    ["", 0, "empty"],
    ["%0", 3904, "encodeKey's empty key"],
    ["é", 10180, "two UTF-8 bytes"],
    ["ключ 🔑", 10160, "Cyrillic and an astral character (a surrogate pair)"],
  ];
  it.each(rows)("row %#: hashSlot(%j) = %i (%s)", (tag, slot) => {
    expect(hashSlot(tag), `hashSlot(${JSON.stringify(tag)})`).toBe(slot);
  });

  // Regression guard for the ASCII fast path (char codes read as bytes): any string, ASCII or not,
  // including lone surrogates (which UTF-8 encodes as U+FFFD, as TextEncoder does), agrees with
  // the bitwise reference over Buffer's UTF-8 bytes.
  it("agrees with a bitwise CRC16 over the UTF-8 bytes for any string", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.string({ unit: "grapheme" })), (tag) => {
        expect(hashSlot(tag), JSON.stringify(tag)).toBe(referenceSlot(tag));
      }),
      { numRuns: 500 },
    );
  });
});
