// Portable assertions: the same calls work under mocha on Node and inside the XS test lane
// (node:assert is not available in XS). Messages show expected and actual values.

export class AssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

function show(value: unknown): string {
  if (value instanceof Uint8Array) {
    const head = Array.from(value.subarray(0, 48), (b) => b.toString(16).padStart(2, "0")).join(" ");
    return `Uint8Array(${value.length})[${head}${value.length > 48 ? " …" : ""}]`;
  }
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  try {
    return (
      JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? show(v) : v)) ?? String(value)
    );
  } catch {
    return String(value);
  }
}

function fail(message: string | undefined, detail: string): never {
  throw new AssertionError(message ? `${message}: ${detail}` : detail);
}

export function ok(value: unknown, message?: string): asserts value {
  if (!value) fail(message, `expected a truthy value, got ${show(value)}`);
}

export function equal<T>(actual: T, expected: T, message?: string): void {
  if (!Object.is(actual, expected)) fail(message, `expected ${show(expected)}, got ${show(actual)}`);
}

export function notEqual<T>(actual: T, expected: T, message?: string): void {
  if (Object.is(actual, expected)) fail(message, `expected a value other than ${show(expected)}`);
}

function deepEq(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    if (!ArrayBuffer.isView(a) || !ArrayBuffer.isView(b) || a.constructor !== b.constructor) return false;
    const x = a as unknown as ArrayLike<unknown>;
    const y = b as unknown as ArrayLike<unknown>;
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
    return true;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (a instanceof Map || b instanceof Map) {
    if (!(a instanceof Map && b instanceof Map) || a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || !deepEq(v, b.get(k))) return false;
    return true;
  }
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k)) return false;
    if (!deepEq((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

export function deepEqual<T>(actual: T, expected: T, message?: string): void {
  if (!deepEq(actual, expected)) fail(message, `expected ${show(expected)}, got ${show(actual)}`);
}

/** Byte-exact comparison that names the first differing offset. */
export function bytesEqual(actual: Uint8Array, expected: Uint8Array, message?: string): void {
  const n = Math.min(actual.length, expected.length);
  for (let i = 0; i < n; i++) {
    if (actual[i] !== expected[i]) {
      fail(
        message,
        `bytes differ at offset ${i}: expected 0x${expected[i]!.toString(16)}, got 0x${actual[i]!.toString(16)}`,
      );
    }
  }
  if (actual.length !== expected.length)
    fail(message, `length ${actual.length}, expected ${expected.length}`);
}

type ErrorMatcher = RegExp | (new (...args: never[]) => Error) | ((error: unknown) => boolean);

function matches(error: unknown, matcher: ErrorMatcher | undefined): boolean {
  if (matcher === undefined) return true;
  if (matcher instanceof RegExp) return matcher.test(error instanceof Error ? error.message : String(error));
  if (matcher.prototype instanceof Error || matcher === Error)
    return error instanceof (matcher as new () => Error);
  return (matcher as (e: unknown) => boolean)(error);
}

export function throws(fn: () => unknown, matcher?: ErrorMatcher, message?: string): void {
  try {
    fn();
  } catch (error) {
    if (!matches(error, matcher)) fail(message, `threw the wrong error: ${String(error)}`);
    return;
  }
  fail(message, "expected an exception, none was thrown");
}

export async function rejects(
  fn: () => Promise<unknown>,
  matcher?: ErrorMatcher,
  message?: string,
): Promise<void> {
  try {
    await fn();
  } catch (error) {
    if (!matches(error, matcher)) fail(message, `rejected with the wrong error: ${String(error)}`);
    return;
  }
  fail(message, "expected a rejection, the promise resolved");
}
