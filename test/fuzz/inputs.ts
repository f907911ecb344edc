/**
 * Fuzzing properties for the inputs around the compiler: data files (CSV and JSONL, mutated byte by byte and
 * cell by cell) read by the data pipeline, and prediction requests (JSONL lines, mutated as JSON and as bytes)
 * sent to trained model directories. Shared by the test suite and the long campaign (`npm run fuzz`).
 */
import { readFileSync } from "node:fs";
import fc from "fast-check";

/** Values that have broken readers before: JavaScript property names, number spellings, odd text. */
export const HOSTILE_VALUES = [
  "__proto__",
  "constructor",
  "toString",
  "valueOf",
  "hasOwnProperty",
  "_x",
  "0x10",
  "1e300",
  "-1e300",
  "1e-300",
  "NaN",
  "Infinity",
  "-0",
  "",
  " ",
  '"',
  '""',
  ",",
  "\n",
  "\r",
  "\r\n",
  "\u0000",
  "\u2028",
  "\uFEFF",
  "\uD800",
  "[object Object]",
  "{}",
  "[]",
  "null",
  "true",
  "9007199254740993",
];

/** Byte runs for byte-level mutations, invalid UTF-8 among them. */
const BYTES = [[0xff], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0x00], [0x0d], [0x0a], [0x22], [0x2c], [0x7b], [0x5b]].map((b) => Buffer.from(b));

export interface DataSeed {
  /** The file's bytes. */
  readonly bytes: Buffer;
  readonly format: "csv" | "jsonl";
}

/** The first `lines` lines of a file. */
export function head(path: string, lines: number): Buffer {
  return Buffer.from(readFileSync(path, "utf8").split("\n").slice(0, lines).join("\n") + "\n");
}

/** A mutation of a data file: a cell replaced by a hostile value, bytes inserted or removed, a line cut. */
export function mutatedData(seed: DataSeed): fc.Arbitrary<Buffer> {
  return fc
    .record({
      op: fc.constantFrom("cell", "cell", "bytes", "delete", "truncate", "duplicate", "header", "longline"),
      a: fc.nat(),
      b: fc.nat(),
      value: fc.constantFrom(...HOSTILE_VALUES),
      junk: fc.constantFrom(...BYTES),
      times: fc.integer({ min: 1, max: 4 }),
    })
    .map(({ op, a, b, value, junk, times }) => {
      let out = seed.bytes;
      for (let k = 0; k < times; k++) out = mutateData(out, seed.format, op, a + k * 7919, b + k * 104729, value, junk);
      return out;
    });
}

function mutateData(bytes: Buffer, format: "csv" | "jsonl", op: string, a: number, b: number, value: string, junk: Buffer): Buffer {
  const at = bytes.length ? a % bytes.length : 0;
  switch (op) {
    case "bytes":
      return Buffer.concat([bytes.subarray(0, at), junk, bytes.subarray(at)]);
    case "delete":
      return Buffer.concat([bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + 1 + (b % 8)))]);
    case "truncate":
      return bytes.subarray(0, at);
    case "duplicate": {
      const lines = bytes.toString("latin1").split("\n");
      const i = a % lines.length;
      lines.splice(i, 0, lines[i]!);
      return Buffer.from(lines.join("\n"), "latin1");
    }
    case "longline":
      return Buffer.concat([bytes.subarray(0, at), Buffer.alloc(20_000 + (b % 50_000), 0x61), bytes.subarray(at)]);
    case "header":
    case "cell": {
      const text = bytes.toString("utf8");
      const lines = text.split("\n");
      const i = op === "header" ? 0 : 1 + (a % Math.max(1, lines.length - 1));
      if (i >= lines.length) return bytes;
      if (format === "csv") {
        const cells = lines[i]!.split(",");
        cells[b % cells.length] = value.includes(",") || value.includes('"') || value.includes("\n") ? `"${value.replace(/"/g, '""')}"` : value;
        lines[i] = cells.join(",");
      } else {
        try {
          const obj = JSON.parse(lines[i]!) as Record<string, unknown>;
          const keys = Object.keys(obj);
          const key = keys[b % keys.length]!;
          const replacement = [value, Number(value), { [value]: value }, [value], null, 1e300][b % 6];
          if (op === "header") {
            const v = obj[key];
            delete obj[key];
            Object.defineProperty(obj, value, { value: v, enumerable: true, configurable: true, writable: true });
          } else obj[key] = replacement;
          lines[i] = JSON.stringify(obj);
        } catch {
          lines[i] = value;
        }
      }
      return Buffer.from(lines.join("\n"));
    }
    default:
      throw new Error(`unknown mutation ${op}`);
  }
}

/** A request line for a model: a valid one changed as JSON, or as text. */
export function mutatedRequest(valid: readonly Record<string, unknown>[]): fc.Arbitrary<string> {
  const odd = fc.oneof(
    fc.constantFrom<unknown>(...HOSTILE_VALUES, 1e300, -1e300, Number.MAX_VALUE, 3.5e38, -1, 0.5, 2 ** 31, 2 ** 53 + 2, null, true, {}, [], [[]], {
      __proto__: null,
    }),
    fc.array(fc.double(), { maxLength: 40 }),
    fc.array(fc.array(fc.double(), { maxLength: 6 }), { maxLength: 40 }),
    fc.string({ maxLength: 30 }),
  );
  return fc
    .record({
      base: fc.constantFrom(...valid),
      op: fc.constantFrom("field", "row", "key", "text", "drop"),
      a: fc.nat(),
      value: odd,
      key: fc.constantFrom(...HOSTILE_VALUES, "text", "ids", "window"),
    })
    .map(({ base, op, a, value, key }) => {
      const copy = JSON.parse(JSON.stringify(base)) as Record<string, unknown>;
      const keys = Object.keys(copy);
      const k = keys[a % keys.length]!;
      switch (op) {
        case "field":
          copy[k] = value;
          return JSON.stringify(copy);
        case "row": {
          const rows = copy[k];
          if (Array.isArray(rows) && rows.length > 0) {
            const i = a % rows.length;
            if (Array.isArray(rows[i])) (rows[i] as unknown[])[a % Math.max(1, (rows[i] as unknown[]).length)] = value;
            else rows[i] = value;
          }
          return JSON.stringify(copy);
        }
        case "key":
          // Written by hand: JSON.stringify would drop a "__proto__" own key set through assignment.
          return `{${JSON.stringify(key)}: ${JSON.stringify(value) ?? "null"}${keys.length ? `, ${JSON.stringify(k)}: ${JSON.stringify(copy[k])}` : ""}}`;
        case "text": {
          const s = JSON.stringify(copy);
          const at = a % (s.length + 1);
          // JSON text of the value (String() throws on a null-prototype object).
          const piece = typeof value === "string" ? value : (JSON.stringify(value) ?? "null");
          return s.slice(0, at) + piece.slice(0, 12) + s.slice(at + (a % 3));
        }
        case "drop":
          delete copy[k];
          return JSON.stringify(copy);
        default:
          throw new Error(`unknown mutation ${op}`);
      }
    });
}
