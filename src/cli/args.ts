// args.ts: flag parsing shared by the commands of the `floodgate` CLI, with coded errors that name the flag and the fix.

import { parseArgs } from "node:util";
import { FloodgateTypeError } from "../core/errors.js";
import { suggest } from "../core/validate.js";

/** FlagSpec declares one flag of a command. */
export interface FlagSpec {
  readonly type: "string" | "boolean";
  readonly multiple?: boolean;
  readonly short?: string;
  /** value names the flag's value in help ("SPEC", "FILE"). */
  readonly value?: string;
  readonly help: string;
}

/** Flags are parsed flag values by name. */
export type Flags = Record<string, string | boolean | string[] | undefined>;

/**
 * parseFlags parses `argv` against `spec`. An unknown flag, a flag without its
 * value, or a stray argument throws a coded error naming the flag, the value
 * and the fix (ERR_UNKNOWN_OPTION, ERR_INVALID_OPTION).
 */
export function parseFlags(command: string, argv: readonly string[], spec: Record<string, FlagSpec>): Flags {
  const options: Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string }> = {};
  for (const [name, f] of Object.entries(spec)) {
    options[name] = { type: f.type, ...(f.multiple ? { multiple: true } : {}), ...(f.short ? { short: f.short } : {}) };
  }
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values as Flags;
  } catch (err) {
    const e = err as Error & { code?: string };
    const flag = /'(-[^'\s]*)/.exec(e.message)?.[1] ?? "";
    const help = `run \`floodgate ${command} --help\` for the flags`;
    if (e.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      const bare = flag.replace(/^-+/, "").replace(/=.*$/, "");
      const hint = suggest(bare, Object.keys(spec));
      throw new FloodgateTypeError(
        "ERR_UNKNOWN_OPTION",
        `floodgate ${command}: unknown flag ${flag || e.message}${hint ? ` (did you mean --${hint}?)` : ""}; ${help}.`,
      );
    }
    if (e.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
      const name = flag.replace(/^-+/, "").replace(/=.*$/, "");
      const f = spec[name];
      throw new FloodgateTypeError(
        "ERR_INVALID_OPTION",
        f?.type === "boolean"
          ? `floodgate ${command}: flag --${name} takes no value; write --${name} alone.`
          : `floodgate ${command}: flag --${name} needs a value (${f?.value ?? "VALUE"}); write --${name} ${f?.value ?? "VALUE"}, ${help}.`,
      );
    }
    if (e.code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") {
      const arg = /'([^']*)'/.exec(e.message)?.[1] ?? "";
      throw new FloodgateTypeError(
        "ERR_INVALID_OPTION",
        `floodgate ${command}: unexpected argument ${JSON.stringify(arg)}; every value follows its flag (quote a value with spaces), ${help}.`,
      );
    }
    throw err;
  }
}

/** helpText renders the flags of a command for --help. */
export function helpText(usage: string, about: string, spec: Record<string, FlagSpec>, footer = ""): string {
  const lines = Object.entries(spec).map(([name, f]) => {
    const left = `  --${name}${f.type === "string" ? ` ${f.value ?? "VALUE"}` : ""}`;
    return `${left.padEnd(26)} ${f.help.replace(/\n/g, `\n${" ".repeat(27)}`)}`;
  });
  return `${usage}\n\n${about}\n\nFlags:\n${lines.join("\n")}\n${footer ? `\n${footer}\n` : ""}`;
}
