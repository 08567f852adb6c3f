// fastify-cjs.ts: the CommonJS entry of floodgate/fastify: require() returns the plugin itself, as Fastify plugins do.
//
// The ESM entry (fastify.ts) has a named and a default export. A CommonJS module
// with both must either hang them on an exports object (which the bundler warns
// about, and which `app.register(require(...))` only accepts through Fastify's
// `.default` unwrapping) or be the plugin itself. Fastify's own plugins do the
// latter: `module.exports = plugin`, with `.default` and a named property.

import { rateLimit } from "./fastify.js";

/**
 * The plugin, also reachable as `.rateLimit` and `.default`, so that every way of
 * loading it from CommonJS works: `require("floodgate/fastify")`,
 * `require("floodgate/fastify").rateLimit`, `.default`, and TypeScript's
 * `import rateLimit from` / `import { rateLimit } from` compiled to CommonJS.
 * The types are those of fastify.ts (`dist/fastify.d.cts`).
 */
const plugin: typeof rateLimit & { rateLimit: typeof rateLimit; default: typeof rateLimit } = Object.assign(rateLimit, {
  rateLimit,
  default: rateLimit,
});

export default plugin;
