// check.ts: `floodgate check limits.yaml`: loads a service configuration offline and reports what is wrong.

import { FloodgateTypeError } from "../core/errors.js";
import { loadAll } from "../service/serve.js";
import { type FlagSpec, helpText } from "./args.js";
import type { Io } from "./main.js";

const FLAGS: Record<string, FlagSpec> = {
  help: { type: "boolean", short: "h", help: "show this help" },
};

const USAGE = "usage: floodgate check PATH [PATH ...]";
const ABOUT = `Checks service configuration files (envoyproxy/ratelimit YAML with floodgate's
extensions, and a floodgate policy file) as \`floodgate serve\` loads them, without
starting anything. A directory contributes its .yaml, .yml and .json files. Exits 0 when
they load (warnings are printed), 1 with the file, line and fix when they do not.`;

/** run checks the files given and prints a summary per domain. */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    io.stdout.write(helpText(USAGE, ABOUT, FLAGS));
    return 0;
  }
  const bad = argv.find((a) => a.startsWith("-"));
  if (bad !== undefined) {
    throw new FloodgateTypeError("ERR_UNKNOWN_OPTION", `floodgate check: unknown flag ${bad}; ${USAGE}.`);
  }
  if (argv.length === 0) {
    throw new FloodgateTypeError("ERR_INVALID_OPTION", `floodgate check: which file? ${USAGE}.`);
  }
  let loaded: Awaited<ReturnType<typeof loadAll>>;
  try {
    loaded = await loadAll(argv);
  } catch (err) {
    const e = err as Error & { code?: string };
    if (e.code === "ERR_INVALID_CONFIG" || e.code === "ERR_POLICY_FILE") {
      io.stderr.write(`${e.message} (${e.code})\n`);
      return 1;
    }
    throw err;
  }
  const { config, policyFile } = loaded;
  for (const w of config.warnings) io.stderr.write(`warning: ${w}\n`);
  if (policyFile !== undefined) {
    io.stdout.write(
      `ok: policy file ${policyFile.source}: ${policyFile.policies.size} polic${policyFile.policies.size === 1 ? "y" : "ies"} (${[...policyFile.policies.keys()].join(", ")})${policyFile.strategy ? `; strategy ${policyFile.strategy}` : ""}\n`,
    );
  }
  for (const d of config.domains.values()) {
    const limited = d.rules.filter((r) => !r.unlimited).length;
    io.stdout.write(
      `ok: domain "${d.name}": ${d.rules.length} rule(s), ${limited} limited, ${d.rules.length - limited} unlimited; all-or-nothing ${d.allOrNothing ? "on" : "off"}\n`,
    );
  }
  return 0;
}
