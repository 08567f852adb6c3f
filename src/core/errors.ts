// errors.ts: the error classes floodgate throws for bad input, each with a stable `code`.

/** ErrorCode lists every stable error code floodgate uses. Codes never change meaning. */
export type ErrorCode =
  | "ERR_INVALID_OPTION"
  | "ERR_UNKNOWN_OPTION"
  | "ERR_INVALID_COST"
  | "ERR_COST_EXCEEDS_LIMIT"
  | "ERR_INVALID_KEY"
  | "ERR_INVALID_POLICY"
  | "ERR_QUEUE_FULL"
  | "ERR_WAIT_TOO_LONG"
  | "ERR_ABORTED"
  | "ERR_INVALID_CLOCK"
  | "ERR_MISSING_PEER"
  | "ERR_STORE"
  | "ERR_INVALID_CONFIG"
  | "ERR_POLICY_FILE";

/**
 * FloodgateRangeError is thrown for a value outside its allowed range
 * (a capacity of 0, a cost larger than the limit). It is a RangeError, so
 * `instanceof RangeError` keeps working.
 */
export class FloodgateRangeError extends RangeError {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "FloodgateRangeError";
    this.code = code;
    brand(this, "FloodgateRangeError");
  }
  /** `instanceof` also recognises errors from another copy of floodgate (the CJS build beside the ESM one). */
  static override [Symbol.hasInstance](x: unknown): boolean {
    return isBrandedError(x, "FloodgateRangeError");
  }
}

/**
 * FloodgateTypeError is thrown for a value of the wrong type or shape
 * (a string where a number is expected, an unknown option key).
 */
export class FloodgateTypeError extends TypeError {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "FloodgateTypeError";
    this.code = code;
    brand(this, "FloodgateTypeError");
  }
  /** `instanceof` also recognises errors from another copy of floodgate (the CJS build beside the ESM one). */
  static override [Symbol.hasInstance](x: unknown): boolean {
    return isBrandedError(x, "FloodgateTypeError");
  }
}

/**
 * FloodgateError is thrown for failures that are neither type nor range
 * problems: a full wait queue, an aborted wait, a wait longer than allowed.
 */
export class FloodgateError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "FloodgateError";
    this.code = code;
    brand(this, "FloodgateError");
  }
  /** `instanceof` also recognises errors from another copy of floodgate (the CJS build beside the ESM one). */
  static override [Symbol.hasInstance](x: unknown): boolean {
    return isBrandedError(x, "FloodgateError");
  }
}

/**
 * ERROR_BRAND marks floodgate's errors with their class name. A registered symbol
 * is the same in every copy of floodgate loaded in one process (ESM and CJS
 * builds are separate copies), so `instanceof` works across them.
 */
const ERROR_BRAND = Symbol.for("floodgate.error");

function brand(e: Error, cls: string): void {
  Object.defineProperty(e, ERROR_BRAND, { value: cls, enumerable: false });
}

function isBrandedError(x: unknown, cls: string): boolean {
  return typeof x === "object" && x !== null && (x as Record<symbol, unknown>)[ERROR_BRAND] === cls;
}

/** describe renders a value for an error message: strings quoted, others as JS would print them. */
export function describe(value: unknown): string {
  if (typeof value === "string") {
    return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
  }
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "number") return Object.is(value, -0) ? "-0" : String(value);
  if (value === null || value === undefined || typeof value === "boolean") return String(value);
  if (typeof value === "function") return "a function";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : typeof value;
}
