// tree.ts: a policy file's text read into plain values with the line and column of every value (JSON by hand, YAML by the `yaml` peer).

import { FloodgateError } from "../core/errors.js";

/** Pos is where a value (or a key) starts in the file: 1-based line and column. */
export interface Pos {
  readonly line: number;
  readonly column: number;
}

/** Tree is a parsed file: its value, and the position of each value by path ("policies.api.capacity"). */
export interface Tree {
  readonly value: unknown;
  readonly positions: ReadonlyMap<string, Pos>;
}

/** SyntaxIssue is a syntax error at a position. */
export class SyntaxIssue extends Error {
  constructor(
    message: string,
    readonly pos: Pos,
  ) {
    super(message);
  }
}

/** joinPath appends a key or an index to a path: `policies` + `api` = `policies.api`; `a` + 0 = `a[0]`. */
export function joinPath(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return path === "" ? key : `${path}.${key}`;
}

/**
 * parseJson reads JSON text, recording the position of every value. It throws a
 * SyntaxIssue with the line and column of the first error. Duplicate keys are an error
 * (JSON.parse would keep the last one silently).
 */
export function parseJson(text: string): Tree {
  const positions = new Map<string, Pos>();
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const pos = (): Pos => ({ line, column: i - lineStart + 1 });
  const fail = (what: string): never => {
    const found = i >= text.length ? "the end of the file" : JSON.stringify(text[i]);
    throw new SyntaxIssue(`${what}, found ${found}`, pos());
  };
  const space = (): void => {
    while (i < text.length) {
      const c = text[i];
      if (c === "\n") {
        line++;
        lineStart = i + 1;
      } else if (c !== " " && c !== "\t" && c !== "\r") {
        break;
      }
      i++;
    }
  };
  const str = (): string => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text[i] === "\\") i++;
      if (text[i] === "\n") fail("a string must end on its line");
      i++;
    }
    if (i >= text.length) fail('a string must end with "');
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (path: string): unknown => {
    space();
    positions.set(path, pos());
    const c = text[i];
    if (c === "{") {
      i++;
      const out: Record<string, unknown> = {};
      space();
      if (text[i] === "}") {
        i++;
        return out;
      }
      for (;;) {
        space();
        if (text[i] !== '"') fail("expected a key in double quotes");
        const keyPos = pos();
        const key = str();
        if (Object.hasOwn(out, key)) throw new SyntaxIssue(`duplicate key ${JSON.stringify(key)}`, keyPos);
        space();
        if (text[i] !== ":") fail('expected ":" after a key');
        i++;
        Object.defineProperty(out, key, {
          value: value(joinPath(path, key)),
          enumerable: true,
          writable: true,
          configurable: true,
        });
        space();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "}") {
          i++;
          return out;
        }
        fail('expected "," or "}"');
      }
    }
    if (c === "[") {
      i++;
      const out: unknown[] = [];
      space();
      if (text[i] === "]") {
        i++;
        return out;
      }
      for (;;) {
        out.push(value(joinPath(path, out.length)));
        space();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "]") {
          i++;
          return out;
        }
        fail('expected "," or "]"');
      }
    }
    if (c === '"') return str();
    const m = /^(-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 400));
    if (m === null) return fail("expected a value");
    i += (m[0] as string).length;
    return JSON.parse(m[0] as string);
  };
  const v = value("");
  space();
  if (i < text.length) fail("expected the end of the file after the value");
  return { value: v, positions };
}

/** YamlModule is the part of the `yaml` package used here. */
interface YamlModule {
  LineCounter: new () => { linePos(offset: number): { line: number; col: number } };
  parseDocument(
    text: string,
    options: { lineCounter: unknown; uniqueKeys: boolean; prettyErrors: boolean },
  ): {
    errors: { message: string; pos: [number, number] }[];
    contents: unknown;
    toJS(): unknown;
  };
}

let yamlModule: Promise<YamlModule> | undefined;

/** loadYaml imports the optional `yaml` peer once, or fails with ERR_MISSING_PEER naming the install. */
function loadYaml(): Promise<YamlModule> {
  yamlModule ??= import("yaml").then(
    (m) => ((m as { default?: YamlModule }).default ?? m) as YamlModule,
    (err: unknown) => {
      yamlModule = undefined;
      throw new FloodgateError(
        "ERR_MISSING_PEER",
        'floodgate: a YAML policy file needs the "yaml" package: npm install yaml (or write the file as JSON).',
        { cause: err },
      );
    },
  );
  return yamlModule;
}

interface YamlNode {
  range?: [number, number, number];
  items?: unknown[];
  key?: { value?: unknown; range?: [number, number, number] };
  value?: unknown;
}

/** parseYaml reads YAML text with the `yaml` peer, recording the position of every value; errors carry theirs. */
export async function parseYaml(text: string): Promise<Tree> {
  const Y = await loadYaml();
  const lc = new Y.LineCounter();
  const doc = Y.parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false });
  const at = (offset: number): Pos => {
    const p = lc.linePos(offset);
    return { line: p.line, column: p.col };
  };
  const first = doc.errors[0];
  if (first) throw new SyntaxIssue(first.message.split("\n")[0] as string, at(first.pos[0]));
  const positions = new Map<string, Pos>();
  const walk = (node: unknown, path: string): void => {
    const n = node as YamlNode | null;
    if (n === null || typeof n !== "object") return;
    if (n.range) positions.set(path, at(n.range[0]));
    if (!Array.isArray(n.items)) return;
    n.items.forEach((item, index) => {
      const pair = item as YamlNode;
      if (pair && typeof pair === "object" && "key" in pair) {
        const key = String((pair.key as { value?: unknown } | undefined)?.value ?? pair.key);
        const child = joinPath(path, key);
        walk(pair.value, child);
        // A key without a value (or a scalar without a range) points at its key.
        if (!positions.has(child) && pair.key?.range) positions.set(child, at(pair.key.range[0]));
      } else {
        walk(item, joinPath(path, index));
      }
    });
  };
  walk(doc.contents, "");
  if (!positions.has("")) positions.set("", { line: 1, column: 1 });
  return { value: doc.toJS(), positions };
}
