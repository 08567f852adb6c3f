// main.ts: the `floodgate` command line: `floodgate <command> [flags]`. Each command lives in its own
// file and is loaded only when run; add one by adding its entry to COMMANDS.

/** Io is where a command writes; tests pass their own. */
export interface Io {
  readonly stdout: { write(s: string): unknown };
  readonly stderr: { write(s: string): unknown; isTTY?: boolean; columns?: number };
}

/** Command is what a command file exports. */
export interface Command {
  /** run runs the command with its flags and returns the exit code. */
  run(argv: readonly string[], io: Io): Promise<number>;
}

/** COMMANDS lists the commands: a one-line summary and how to load it. */
export const COMMANDS: Record<string, { readonly summary: string; load(): Promise<Command> }> = {
  simulate: {
    summary: "run policies over generated or replayed traffic in virtual time; report, chart, advise",
    load: () => import("./simulate.js"),
  },
  serve: {
    summary: "run the rate limit service: Envoy RLS v3 over gRPC, JSON over HTTP",
    load: () => import("./serve.js"),
  },
  check: {
    summary: "check service configuration files (envoyproxy/ratelimit YAML) offline",
    load: () => import("./check.js"),
  },
};

const USAGE = `usage: floodgate <command> [flags]

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  .join("\n")}

Run \`floodgate <command> --help\` for a command's flags.
`;

/**
 * main runs `floodgate` with `argv` (without the node and script paths) and
 * returns the exit code: 0 done, 1 failed, 2 bad usage (an unknown command or
 * flag, a bad value). Errors are printed with their code, never thrown.
 */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    io.stdout.write(USAGE);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    io.stderr.write(
      `floodgate: unknown command ${JSON.stringify(name)} (ERR_UNKNOWN_OPTION); the commands are ${Object.keys(COMMANDS).join(", ")}.\n\n${USAGE}`,
    );
    return 2;
  }
  try {
    return await (await command.load()).run(rest, io);
  } catch (err) {
    const e = err as Error & { code?: string };
    if (typeof e?.code === "string" && e.code.startsWith("ERR_")) {
      io.stderr.write(`${e.message} (${e.code})\n`);
      return e.code === "ERR_INVALID_OPTION" || e.code === "ERR_UNKNOWN_OPTION" || e.code === "ERR_INVALID_POLICY"
        ? 2
        : 1;
    }
    io.stderr.write(`floodgate ${name}: ${e?.stack ?? String(err)}\n`);
    return 1;
  }
}
