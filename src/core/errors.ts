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
  | "ERR_STORE";

/**
 * FloodgateRangeError is thrown for a value outside its allowed range
 * (a capacity of 0, a cost larger than the limit). It is a RangeError, so
 * `instanceof RangeError` keeps working.
 */
export class FloodgateRangeError extends RangeError {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = "FloodgateRangeError";
    this.code = code;
  }
}

/**
 * FloodgateTypeError is thrown for a value of the wrong type or shape
 * (a string where a number is expected, an unknown option key).
 */
export class FloodgateTypeError extends TypeError {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = "FloodgateTypeError";
    this.code = code;
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
  }
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
