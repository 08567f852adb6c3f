// gen-lua.ts: writes src/stores/redis/scripts.generated.ts (each Lua script's source and SHA1, and the function library) from the .lua files.
//
// Run: node --import tsx scripts/gen-lua.ts          (writes the file)
//      node --import tsx scripts/gen-lua.ts --check  (exits 1 when the file is stale)

import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ALGORITHMS } from "../src/core/registry.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const luaDir = join(root, "src/stores/redis/lua");

/** OUTPUT is the generated module's path. */
export const OUTPUT = join(root, "src/stores/redis/scripts.generated.ts");

/** SCRIPTS lists each script and the .lua files it is made of, in order. */
export const SCRIPTS: Record<string, readonly string[]> = {
  decide: ["lib.lua", ...new Set(ALGORITHMS.map((a) => a.lua)), "live.lua", "state.lua", "decide.lua", "batch.lua"],
  node: ["lib.lua", ...new Set(ALGORITHMS.map((a) => a.lua)), "live.lua", "state.lua", "node.lua", "batch.lua"],
  block: ["lib.lua", "block.lua"],
};

/**
 * SHEBANG gives a script's first line, when it has one: node.lua touches keys of
 * several slots of its node, which Redis 7 allows a script that says so.
 */
export const SHEBANG: Record<string, string> = { node: "#!lua flags=allow-cross-slot-keys" };

/**
 * LONE lists, per algorithm code (from the registry), the math file of its
 * dedicated lone-call script: `local KIND = '<code>'`, lib.lua, that file, lone.lua.
 */
export const LONE: Record<string, string> = Object.fromEntries(ALGORITHMS.map((a) => [a.code, a.lua]));

/**
 * LIBRARY_FILES are the files the function library defines once, at FUNCTION LOAD:
 * lib.lua, memo.lua (a memo of tonumber, kept across calls), every kind's math and
 * state.lua (batch.lua's reads and writes of a key).
 * Each function's body (FUNCTION_BODIES) is a
 * script's own part, run per call as a Lua function of (KEYS, ARGV).
 */
export const LIBRARY_FILES: readonly string[] = [
  "lib.lua",
  "memo.lua",
  ...new Set(ALGORITHMS.map((a) => a.lua)),
  "live.lua",
  "state.lua",
];

/** FUNCTION_BODIES lists, per script with a function twin, the files of its per-call body. */
export const FUNCTION_BODIES: Record<string, readonly string[]> = {
  decide: ["decide.lua", "batch.lua"],
  node: ["node.lua", "batch.lua"],
};

/** FUNCTION_FLAGS gives a function's flags (node.lua's shebang flag, as a function flag). */
export const FUNCTION_FLAGS: Record<string, readonly string[]> = { node: ["allow-cross-slot-keys"] };

/**
 * librarySource returns the function library (Redis 7+ `FUNCTION LOAD`) and the
 * name of each script's function. The library and its functions are named after
 * the SHA1 of the library's body (floodgate_<h>, fg_<h>_<script>), so two versions
 * of floodgate sharing one Redis load side by side and never replace each
 * other's functions. Each function runs the same Lua as its script: the shared
 * files once, at load; the script's own part per call.
 */
export function librarySource(): { name: string; source: string; functions: Record<string, string> } {
  const indent = (text: string): string =>
    text
      .split("\n")
      .map((l) => (l === "" ? l : `  ${l}`))
      .join("\n");
  const parts: string[] = [scriptSource(LIBRARY_FILES).trimEnd()];
  const registrations: [string, string, readonly string[]][] = [];
  for (const [name, files] of Object.entries(FUNCTION_BODIES)) {
    parts.push(`local function fn_${name}(KEYS, ARGV)\n${indent(scriptSource(files).trimEnd())}\nend`);
    registrations.push([name, `fn_${name}`, FUNCTION_FLAGS[name] ?? []]);
  }
  // lone(KIND) makes a kind's lone function once, at load: KIND is its upvalue, so a call
  // runs lone.lua's body directly, with no Lua call in between.
  parts.push(
    `local function lone(KIND)\n  return function(KEYS, ARGV)\n${indent(indent(scriptSource(["lone.lua"]).trimEnd()))}\n  end\nend`,
  );
  for (const kind of Object.keys(LONE)) registrations.push([`lone_${kind}`, `lone('${kind}')`, []]);
  const body = (h: string): string =>
    `${parts.join("\n\n")}\n\n${registrations
      .map(([name, callback, flags]) => {
        const f = flags.length > 0 ? `, flags = { ${flags.map((x) => `'${x}'`).join(", ")} }` : "";
        return `redis.register_function{ function_name = 'fg_${h}_${name}', callback = ${callback}${f} }`;
      })
      .join("\n")}\n`;
  // The hash covers the body with a placeholder for itself.
  const h = createHash("sha1").update(body("")).digest("hex").slice(0, 10);
  const functions = Object.fromEntries(registrations.map(([name]) => [name, `fg_${h}_${name}`]));
  return { name: `floodgate_${h}`, source: `#!lua name=floodgate_${h}\n${body(h)}`, functions };
}

/** scriptSource concatenates a script's files into the source Redis runs. */
export function scriptSource(files: readonly string[]): string {
  return `${files.map((f) => readFileSync(join(luaDir, f), "utf8").trimEnd()).join("\n\n")}\n`;
}

/** render returns the generated module's text. */
export function render(): string {
  const lines = [
    "// scripts.generated.ts: the Lua scripts' sources and SHA1s. GENERATED by scripts/gen-lua.ts",
    "// from src/stores/redis/lua/*.lua; do not edit by hand (a test fails when it is stale).",
    "",
    "/**",
    " * LuaScript is one script as Redis runs it: its source, the SHA1 EVALSHA names it by,",
    " * and (fn) the name of its twin in LIBRARY, which FCALL names it by, when it has one.",
    " */",
    "export interface LuaScript {",
    "  readonly name: string;",
    "  readonly source: string;",
    "  readonly sha1: string;",
    "  readonly fn?: string;",
    "}",
    "",
  ];
  const library = librarySource();
  const emit = (name: string, what: string, source: string): void => {
    const sha1 = createHash("sha1").update(source).digest("hex");
    const fn = library.functions[name];
    lines.push(`/** ${name.toUpperCase()} is built from ${what}. */`);
    lines.push(`export const ${name.toUpperCase()}: LuaScript = {`);
    lines.push(`  name: ${JSON.stringify(name)},`);
    lines.push(`  sha1: ${JSON.stringify(sha1)},`);
    if (fn !== undefined) lines.push(`  fn: ${JSON.stringify(fn)},`);
    lines.push(`  source: ${JSON.stringify(source)},`);
    lines.push("};");
    lines.push("");
  };
  for (const [name, files] of Object.entries(SCRIPTS)) {
    const shebang = SHEBANG[name];
    const source = scriptSource(files);
    emit(name, `${shebang ? `${shebang}, ` : ""}${files.join(", ")}`, shebang ? `${shebang}\n${source}` : source);
  }
  for (const [kind, file] of Object.entries(LONE)) {
    const files = ["lib.lua", file, "lone.lua"];
    emit(`lone_${kind}`, `KIND = '${kind}', ${files.join(", ")}`, `local KIND = '${kind}'\n\n${scriptSource(files)}`);
  }
  lines.push("/** LONE maps a policy kind code to its lone-call script (lone.lua). */");
  lines.push("export const LONE: Readonly<Record<string, LuaScript>> = {");
  for (const kind of Object.keys(LONE)) lines.push(`  ${kind}: LONE_${kind.toUpperCase()},`);
  lines.push("};");
  lines.push("");
  lines.push("/**");
  lines.push(" * LIBRARY is the Redis 7+ function library of the scripts above (FUNCTION LOAD): built from");
  lines.push(` * ${LIBRARY_FILES.join(", ")} once, then per function its script's own part.`);
  lines.push(" */");
  lines.push("export const LIBRARY: { readonly name: string; readonly source: string } = {");
  lines.push(`  name: ${JSON.stringify(library.name)},`);
  lines.push(`  source: ${JSON.stringify(library.source)},`);
  lines.push("};");
  lines.push("");
  return lines.join("\n");
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const text = render();
  if (process.argv.includes("--check")) {
    let current = "";
    try {
      current = readFileSync(OUTPUT, "utf8");
    } catch {
      // missing counts as stale
    }
    if (current !== text) {
      console.error(`${OUTPUT} is stale; run: node --import tsx scripts/gen-lua.ts`);
      process.exit(1);
    }
  } else {
    writeFileSync(OUTPUT, text);
    console.log(`wrote ${OUTPUT}`);
  }
}
