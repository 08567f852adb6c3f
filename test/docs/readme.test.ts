// readme.test.ts: every ```ts example in the README runs (against the sources) without throwing.
//
// A block whose info string is `ts no-run` is only shown (it starts a server or
// needs a service); every other `ts` block is executed as an ES module, with
// "floodgate" and its subpaths mapped to the sources.

import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../..");
const subpathSources: Record<string, string> = {
  floodgate: "src/index.ts",
  "floodgate/redis": "src/stores/redis/index.ts",
  "floodgate/http": "src/http/index.ts",
  "floodgate/express": "src/adapters/express.ts",
  "floodgate/fastify": "src/adapters/fastify.ts",
  "floodgate/hono": "src/adapters/hono.ts",
  "floodgate/koa": "src/adapters/koa.ts",
  "floodgate/node": "src/adapters/node.ts",
  "floodgate/client": "src/client/index.ts",
  "floodgate/simulate": "src/simulate/index.ts",
  "floodgate/service": "src/service/index.ts",
  "floodgate/prometheus": "src/metrics/prometheus.ts",
  "floodgate/otel": "src/metrics/otel.ts",
  "floodgate/policy-file": "src/policy-file/index.ts",
};

interface Block {
  line: number;
  code: string;
}

function blocks(markdown: string): Block[] {
  const out: Block[] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if ((lines[i] as string).trim() !== "```ts") continue;
    const start = i + 1;
    const body: string[] = [];
    for (i = start; i < lines.length && (lines[i] as string).trim() !== "```"; i++) body.push(lines[i] as string);
    out.push({ line: start, code: body.join("\n") });
  }
  return out;
}

const dir = join(root, ".tmp", "readme");
mkdirSync(dir, { recursive: true });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("README examples", () => {
  const found = blocks(readFileSync(join(root, "README.md"), "utf8"));

  it("has runnable examples", () => {
    expect(found.length).toBeGreaterThan(5);
  });

  for (const b of found) {
    it(`README.md:${b.line} runs`, () => {
      const code = b.code.replace(/from "(floodgate(?:\/[a-z-]+)?)"/g, (_match, spec: string) => {
        const src = subpathSources[spec];
        if (!src) throw new Error(`README.md:${b.line} imports ${spec}, which is not a known subpath`);
        return `from ${JSON.stringify(join(root, src))}`;
      });
      const file = join(dir, `block-${b.line}.mts`);
      writeFileSync(file, `${code}\nexport {};\n`);
      let failure = "";
      try {
        execFileSync(process.execPath, ["--import", "tsx", file], { cwd: root, encoding: "utf8", timeout: 20_000 });
      } catch (e) {
        const err = e as { stderr?: string; message: string };
        failure = err.stderr || err.message;
      }
      expect(failure, `README.md:${b.line}\n${b.code}`).toBe("");
    });
  }
});
