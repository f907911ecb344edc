/**
 * What every attnc layer class shares, in the runtime: reading the first input, shape and mask of a call, reading
 * options back from a layer config, and the seeded initial values Keras computes rather than draws (orthogonal).
 * src/runtime/layers.ts and the layer files of their own (gru.ts) import these, so each is written once.
 */
import * as tf from "@tensorflow/tfjs";
import { concatLast, sequenceKernelsAvailable } from "./kernels.js";

export type Shape = (number | null)[];
export type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;
export type Kwargs = { [key: string]: unknown };
export type Init = ReturnType<typeof tf.initializers.zeros>;
export type Config = tf.serialization.ConfigDict;

/** The gate activations a recurrent layer takes (its config is matched against these when read back). */
export const GATE_ACTIVATIONS = ["sigmoid", "hard_sigmoid"] as const;
/** How a bidirectional layer combines its two directions. */
export type Merge = "concat" | "sum" | "ave" | "mul";
export const MERGE_MODES: readonly Merge[] = ["concat", "sum", "ave", "mul"];

/** The forward and (re-aligned) backward outputs [B, T, H] combined as `merge` says: [B, T, 2H] for concat. */
export function mergeDirections(f: tf.Tensor, r: tf.Tensor, merge: Merge): tf.Tensor {
  switch (merge) {
    case "concat":
      return sequenceKernelsAvailable() ? concatLast(f, r) : tf.concat([f, r], 2);
    case "sum":
      return tf.add(f, r);
    case "ave":
      return tf.mul(tf.add(f, r), 0.5);
    case "mul":
      return tf.mul(f, r);
  }
}

export const isShapeList = (s: Shape | Shape[]): s is Shape[] => Array.isArray(s[0]);
export const firstShape = (s: Shape | Shape[]): Shape => (isShapeList(s) ? s[0]! : s);
export const first = (x: tf.Tensor | tf.Tensor[]): tf.Tensor => (Array.isArray(x) ? x[0]! : x);
/** tfjs-layers types masks as never null; null is what "no mask" is at run time. */
export const passMask = (mask?: tf.Tensor | tf.Tensor[]): tf.Tensor => ((Array.isArray(mask) ? mask[0] : mask) ?? null) as unknown as tf.Tensor;
export const maskOf = (kwargs: Kwargs): tf.Tensor2D | null => {
  const m = kwargs["mask"] as tf.Tensor | tf.Tensor[] | undefined | null;
  const mm = Array.isArray(m) ? m[0] : m;
  return mm ? (mm.toFloat() as tf.Tensor2D) : null;
};

/** A layer config that names no valid option (a damaged model.json): the model directory is damaged. */
export class LayerConfigError extends Error {}

/**
 * An option read back from a layer config. tfjs rewrites string values when a model is saved (camelCase to
 * snake_case) and loaded (snake_case to camelCase), so `hard_sigmoid` comes back as `hardSigmoid`: values are
 * matched against the allowed ones with underscores and case ignored, and anything else is an error rather than
 * a silent default.
 */
export function configOption<T extends string>(layer: string, key: string, value: unknown, allowed: readonly T[], fallback?: T): T {
  if ((value === undefined || value === null) && fallback !== undefined) return fallback;
  const flat = (s: string) => s.replace(/_/g, "").toLowerCase();
  const found = typeof value === "string" ? allowed.find((a) => flat(a) === flat(value)) : undefined;
  if (found === undefined) throw new LayerConfigError(`layer ${layer}: ${key} must be one of ${allowed.join(", ")}, not ${JSON.stringify(value)}`);
  return found;
}

// ---- initial values (seeded, so that a seed fixes the initial weights)

/** Keras' orthogonal initialiser: QR of a seeded normal matrix, signs fixed by the diagonal of R. */
export function orthogonal(shape: [number, number], seed: number): tf.Tensor {
  return tf.tidy(() => {
    const [rows, cols] = shape;
    const n = Math.max(rows, cols);
    const m = Math.min(rows, cols);
    const a = tf.randomNormal([n, m], 0, 1, "float32", seed) as tf.Tensor2D;
    const [q, r] = tf.linalg.qr(a);
    const d = tf.sign(tf.sum(tf.mul(r, tf.eye(m)), 0));
    const qq = tf.mul(q, d);
    return rows < cols ? tf.transpose(qq) : qq;
  });
}

/** A weight whose initial value is computed here rather than by a registered initialiser. */
export function addWeightWithValue(
  layer: { addWeightPublic(n: string, s: number[], i: Init): tf.LayerVariable },
  name: string,
  value: tf.Tensor,
): tf.LayerVariable {
  const v = layer.addWeightPublic(name, value.shape, tf.initializers.zeros());
  v.write(value);
  value.dispose();
  return v;
}
