// runtime.ts: finds the Bun, Deno and workerd binaries their npm packages installed, and runs one server per test file.

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

export const root = resolve(import.meta.dirname, "../..");
const modules = join(root, "node_modules");

const arch = process.arch === "arm64" ? "aarch64" : "x64";
const workerdArch = process.arch === "arm64" ? "arm64" : "64";

/**
 * CANDIDATES lists where each runtime's npm package leaves its binary. The
 * package's postinstall (allowed in package.json's allowScripts) moves or copies
 * the platform package's binary into the main package; with scripts skipped the
 * binary stays in the platform package (`@oven/bun-linux-x64`, ...).
 */
const CANDIDATES: Record<string, string[]> = {
  bun: [
    join(modules, "bun", "bin", "bun.exe"),
    join(modules, "@oven", `bun-linux-${arch}`, "bin", "bun"),
    join(modules, "@oven", `bun-linux-${arch}-musl`, "bin", "bun"),
  ],
  deno: [
    join(modules, "deno", "deno"),
    join(modules, "@deno", `linux-${process.arch === "arm64" ? "arm64" : "x64"}-glibc`, "deno"),
  ],
  workerd: [
    join(modules, "@cloudflare", `workerd-linux-${workerdArch}`, "bin", "workerd"),
    join(modules, "workerd", "bin", "workerd"),
  ],
};

/**
 * binary returns the path of a runtime's executable as its npm devDependency
 * installed it. A placeholder (bun's `bun.exe` before its postinstall ran) is a
 * few kilobytes of text and is passed over.
 */
export function binary(name: "bun" | "deno" | "workerd"): string {
  for (const path of CANDIDATES[name] ?? []) {
    if (existsSync(path) && statSync(path).size > 1_000_000) return path;
  }
  throw new Error(
    `${name}: no binary under node_modules (looked at ${(CANDIDATES[name] ?? []).join(", ")}); run npm ci (its devDependency "${name}" ships it)`,
  );
}

/** Running is a started runtime process. */
export interface Running {
  readonly process: ChildProcess;
  /** output is everything the process printed so far. */
  output(): string;
  /** stop ends the process (SIGTERM, then SIGKILL after 5 s) and waits for it. */
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const p of live) p.kill("SIGKILL");
});

/** start runs `bin args` in `cwd`, collecting its output; `ready(output)` resolves once it says it listens. */
export function start(bin: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Running {
  const p = spawn(bin, args, {
    cwd: options.cwd ?? root,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(p);
  let out = "";
  p.stdout?.on("data", (b: Buffer) => {
    out += b.toString();
  });
  p.stderr?.on("data", (b: Buffer) => {
    out += b.toString();
  });
  const exited = new Promise<void>((r) => p.once("exit", () => r()));
  p.once("exit", () => live.delete(p));
  return {
    process: p,
    output: () => out,
    async stop() {
      if (p.exitCode !== null || p.signalCode !== null) return;
      p.kill("SIGTERM");
      const timer = setTimeout(() => p.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** waitFor polls `check` every 20 ms until it returns a value, for at most `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** listenedPort waits until a runtime prints `{"port": N}` and returns N; it fails at once if the runtime exits. */
export async function listenedPort(running: Running, name: string): Promise<number> {
  const port = await waitFor(`${name} to print its port`, async () => {
    if (running.process.exitCode !== null || running.process.signalCode !== null) return -1;
    const m = /\{"port":(\d+)\}/.exec(running.output());
    return m ? Number(m[1]) : undefined;
  }).catch((e: Error) => {
    throw new Error(`${e.message}\n${name} printed:\n${running.output()}`);
  });
  if (port < 0) throw new Error(`${name} exited (${running.process.exitCode}); it printed:\n${running.output()}`);
  return port;
}
