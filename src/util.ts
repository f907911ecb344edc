/** For exhaustive switches: a compile error when a case is missing, a compiler bug if reached. */
export function assertNever(x: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(x)}`);
}
