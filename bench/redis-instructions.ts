// redis-instructions.ts: Redis's own instructions per script call and per decision (redis-server under callgrind).
//
// Run: node --import tsx bench/redis-instructions.ts [standalone|cluster]
//      (each script row is followed by the same calls by FCALL, the function library loaded once)
//      BATCHES=2,16,64 CALLS=200 ... to change the batch sizes and the calls measured per row.
//      HZ=1 ... fewer server timer runs (less noise between rows; see start()).
//      ALG=tb|gc|lb|fw|sw ... the policy decided (default tb, the token bucket; each long-lived:
//      every call admitted, every key kept between calls).
//
// Instruction counts do not change with the load of a shared machine, where CPU time and
// wall time do: this is the measure to compare script changes with. redis-server runs under
// `valgrind --tool=callgrind`; its counters are dumped (and so zeroed) before and after each
// row, and each row's calls are awaited one by one on one ioredis connection, so the count is
// the server's whole work for those calls: reading, parsing, the script, the reply. Kernel time
// (syscalls, wake-ups) is not counted. Every row runs on keys made by two passes before it
// (long-lived keys: the token bucket refills 0.1 token/s). Needs valgrind and redis-server.

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { fixedWindow, gcra, leakyBucket, type Policy, slidingWindow } from "../src/index.js";
import { encode, encodeNode, type ScriptCall, type WireCall } from "../src/stores/redis/protocol.js";
import { LIBRARY } from "../src/stores/redis/scripts.generated.js";
import { freePort } from "../test/helpers/redis-server.js";
import { longLivedBucket } from "./workload.js";

const MODE = process.argv[2] === "cluster" ? "cluster" : "standalone";
const CALLS = Number(process.env.CALLS ?? 200);
const BATCHES = (process.env.BATCHES ?? "2,16,64").split(",").map(Number);
/** POLICIES are the long-lived policy of each kind ALG can name. */
const POLICIES: Record<string, () => Policy> = {
  tb: longLivedBucket,
  gc: () => gcra({ limit: 1, periodMs: 10_000, burst: 1e7 }),
  lb: () => leakyBucket({ capacity: 1e7, leakRate: 0.1 }),
  fw: () => fixedWindow({ limit: 1e7, windowMs: 3_600_000 }),
  sw: () => slidingWindow({ limit: 1e7, windowMs: 3_600_000 }),
};
const ALG = process.env.ALG ?? "tb";
const policy = (POLICIES[ALG] ?? longLivedBucket)();
const policies = [policy];

/** RLF is rate-limiter-flexible's script (RateLimiterRedis), for comparison. */
const RLF = `redis.call('set', KEYS[1], 0, 'EX', ARGV[2], 'NX')
local consumed = redis.call('incrby', KEYS[1], ARGV[1])
local ttl = redis.call('pttl', KEYS[1])
if ttl == -1 then
  redis.call('expire', KEYS[1], ARGV[2])
  ttl = 1000 * ARGV[2]
end
return {consumed, ttl}`;
/** FLOOR is the least an exact read-modify-write can do in a script: one GET and one SET with PX. */
const FLOOR =
  "local v = redis.call('GET', KEYS[1]) redis.call('SET', KEYS[1], 'xxxxxxxxxxxxxxxx', 'PX', 600000) return 1";

interface Server {
  proc: ChildProcess;
  redis: Redis;
  out: string;
  dir: string;
}

async function start(): Promise<Server> {
  const port = await freePort(true);
  const dir = mkdtempSync(join(tmpdir(), "floodgate-cg-"));
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir];
  if (MODE === "cluster") args.push("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf");
  // HZ=1 (default: Redis's 10) runs the server's timers less often: their work, which follows wall time
  // (slow under callgrind), is the rows' noise.
  if (process.env.HZ !== undefined) args.push("--hz", process.env.HZ);
  const proc = spawn("valgrind", ["--tool=callgrind", `--callgrind-out-file=${dir}/cg.%p`, "redis-server", ...args], {
    stdio: "ignore",
  });
  const redis = new Redis(port, "127.0.0.1", { retryStrategy: () => 200 });
  redis.on("error", () => {});
  for (let i = 0; ; i++) {
    try {
      await redis.ping();
      break;
    } catch {
      if (i > 100) {
        redis.disconnect();
        proc.kill("SIGKILL");
        throw new Error("redis-server under valgrind did not start (are valgrind and redis-server on PATH?)");
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  if (MODE === "cluster") {
    await redis.call("CLUSTER", "ADDSLOTSRANGE", "0", "16383");
    while (!String(await redis.call("CLUSTER", "INFO")).includes("cluster_state:ok")) {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return { proc, redis, out: dir, dir };
}

/** dump asks callgrind for a dump and returns the instructions counted since the previous one. */
function dump(s: Server): number {
  const pid = s.proc.pid as number;
  execFileSync("callgrind_control", ["-d", String(pid)], { stdio: "ignore" });
  const parts = readdirSync(s.out)
    .filter((f) => f.startsWith(`cg.${pid}.`))
    .sort((a, b) => Number(a.split(".").pop()) - Number(b.split(".").pop()));
  const text = readFileSync(join(s.out, parts[parts.length - 1] as string), "utf8");
  return Number(/^(?:summary|totals): (\d+)/m.exec(text)?.[1] ?? Number.NaN);
}

const keyOf = (i: number): string => `fg:{user:${i}}:${policy.id}`;
const callOf = (i: number): WireCall => ({ op: "c", policies, cost: 1, keys: [keyOf(i)] });

/** run sends a script call by SHA1, loading it by source on NOSCRIPT. */
async function run(r: Redis, sha1: string, source: string, keys: readonly string[], args: readonly string[]) {
  try {
    return await r.evalsha(sha1, keys.length, ...keys, ...args);
  } catch (err) {
    if (!String(err).includes("NOSCRIPT")) throw err;
    return r.eval(source, keys.length, ...keys, ...args);
  }
}

async function main(): Promise<void> {
  const s = await start();
  try {
    await measure(s);
  } finally {
    s.redis.disconnect();
    s.proc.kill("SIGTERM");
    await new Promise((res) => s.proc.once("exit", res));
    rmSync(s.dir, { recursive: true, force: true });
  }
}

/** fcall runs a script call as its function (FCALL, the library loaded once). */
function fcall(r: Redis, sc: ScriptCall): Promise<unknown> {
  return r.call("FCALL", sc.script.fn as string, String(sc.keys.length), ...sc.keys, ...sc.args);
}

/** measure runs every row on the server `s` and prints its instructions. */
async function measure(s: Server): Promise<void> {
  const r = s.redis;
  const rlf = String(await r.script("LOAD", RLF));
  const floor = String(await r.script("LOAD", FLOOR));
  const empty = String(await r.script("LOAD", "return 1"));
  await r.call("FUNCTION", "LOAD", "REPLACE", LIBRARY.source);
  /** A row: its name, decisions per call, and the call for the decisions starting at `b`. */
  type Row = [string, number, (b: number) => Promise<unknown>];
  const batch = (d: number, node: boolean, fn = false): Row => [
    `${node ? "node.lua" : "decide.lua"}${fn ? " by FCALL" : ""}, ${d} decisions per call`,
    d,
    (b) => {
      const calls = Array.from({ length: d }, (_, j) => callOf(b + j));
      const sc = node ? encodeNode(undefined, "0", calls) : encode(undefined, "0", calls);
      return fn ? fcall(r, sc) : run(r, sc.script.sha1, sc.script.source, sc.keys, sc.args);
    },
  ];
  const rows: Row[] = [
    ["bare EVALSHA returning 1", 1, () => r.evalsha(empty, 0)],
    ["GET + SET PX in a script (floor)", 1, (b) => r.evalsha(floor, 1, `floor:{user:${b}}`)],
    ["rate-limiter-flexible's script", 1, (b) => r.evalsha(rlf, 1, `rlf:user:${b}`, "1", "600")],
    [
      `lone.lua (${ALG})`,
      1,
      (b) => {
        const sc = encode(undefined, "0", [callOf(b)]);
        return run(r, sc.script.sha1, sc.script.source, sc.keys, sc.args);
      },
    ],
    [`lone.lua (${ALG}) by FCALL`, 1, (b) => fcall(r, encode(undefined, "0", [callOf(b)]))],
    ...BATCHES.filter(() => MODE === "standalone").flatMap((d) => [batch(d, false), batch(d, false, true)]),
    ...BATCHES.flatMap((d) => [batch(d, true), batch(d, true, true)]),
  ];
  console.log(`redis-server ${MODE} under callgrind; ${ALG}; ${CALLS} calls per row; instructions (Ir)`);
  for (const [name, per, fn] of rows) {
    const calls = Math.max(1, Math.round(CALLS / Math.max(1, per / 16)));
    const n = calls * per;
    for (let w = 0; w < 2; w++) for (let i = 0; i < n; i += per) await fn(i);
    dump(s);
    for (let i = 0; i < n; i += per) await fn(i);
    const ir = dump(s);
    console.log(
      `${name}: ${Math.round(ir / calls).toLocaleString("en-US")} per call, ${Math.round(ir / n).toLocaleString("en-US")} per decision`,
    );
  }
}

await main();
