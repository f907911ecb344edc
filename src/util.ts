/** For exhaustive switches: a compile error when a case is missing, a compiler bug if reached. */
export function assertNever(x: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(x)}`);
}

/**
 * An empty object without a prototype, for keys that come from a spec: `__proto__`, `constructor` or
 * `toString` are then ordinary keys, read and written as given, and serialise as themselves.
 */
export function dict<T>(): { [key: string]: T } {
  return Object.create(null) as { [key: string]: T };
}

/** `obj[key]` if `obj` has that key of its own, else undefined (never an inherited member such as `toString`). */
export function own<T>(obj: { readonly [key: string]: T }, key: string): T | undefined {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}
