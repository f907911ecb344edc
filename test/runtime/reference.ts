import * as tf from "@tensorflow/tfjs";

/**
 * Direct, step-by-step formulations of docs/language.md's equations, written for clarity, not speed,
 * and differentiated by tfjs autodiff. The runtime's kernels are checked against these.
 */
export function naiveLstm(
  x: tf.Tensor3D,
  W: tf.Tensor2D,
  U: tf.Tensor2D,
  b: tf.Tensor1D,
  mask: tf.Tensor2D | null,
  reverse = false,
  activation: "sigmoid" | "hard_sigmoid" = "sigmoid",
): tf.Tensor3D {
  const [B, T, F] = x.shape;
  const H = U.shape[0];
  // hard_sigmoid as Keras defines it: clip(0.2 z + 0.5, 0, 1).
  const gate = activation === "sigmoid" ? tf.sigmoid : (z: tf.Tensor) => tf.clipByValue(z.mul(0.2).add(0.5), 0, 1);
  let h: tf.Tensor = tf.zeros([B, H]);
  let c: tf.Tensor = tf.zeros([B, H]);
  const outs: tf.Tensor[] = new Array<tf.Tensor>(T);
  for (let s = 0; s < T; s++) {
    const t = reverse ? T - 1 - s : s;
    const xt = x.slice([0, t, 0], [B, 1, F]).reshape([B, F]);
    const z = xt.matMul(W).add(h.matMul(U)).add(b);
    const [zi, zf, zg, zo] = tf.split(z, 4, 1);
    const i = gate(zi!);
    const f = gate(zf!);
    const g = tf.tanh(zg!);
    const o = gate(zo!);
    const cNew = f.mul(c).add(i.mul(g));
    const hNew = o.mul(tf.tanh(cNew));
    if (mask) {
      const m = mask.slice([0, t], [B, 1]);
      c = m.mul(cNew).add(tf.sub(1, m).mul(c));
      h = m.mul(hNew).add(tf.sub(1, m).mul(h));
    } else {
      c = cNew;
      h = hNew;
    }
    outs[t] = h;
  }
  return tf.stack(outs, 1) as tf.Tensor3D;
}

/** Attention pooling, additive score: u_t = tanh(W h_t + b), e_t = v . u_t, alpha = softmax over unmasked t. */
export function naiveAttentionPool(h: tf.Tensor3D, W: tf.Tensor2D, b: tf.Tensor1D, v: tf.Tensor1D, mask: tf.Tensor2D | null): [tf.Tensor2D, tf.Tensor2D] {
  const [B, T] = h.shape;
  const e: number[][] = [];
  const hs = h.arraySync();
  const m = mask?.arraySync();
  const Wv = W.arraySync();
  const bv = b.arraySync();
  const vv = v.arraySync();
  for (let n = 0; n < B; n++) {
    e.push([]);
    for (let t = 0; t < T; t++) {
      let s = 0;
      for (let a = 0; a < vv.length; a++) {
        let u = bv[a]!;
        for (let d = 0; d < hs[n]![t]!.length; d++) u += hs[n]![t]![d]! * Wv[d]![a]!;
        s += vv[a]! * Math.tanh(u);
      }
      e[n]!.push(s);
    }
  }
  return softmaxPool(hs, e, m, false);
}

/** Zhou et al. 2016: e_t = w . tanh(h_t), output tanh(sum alpha_t h_t). */
export function naiveZhouPool(h: tf.Tensor3D, w: tf.Tensor1D, mask: tf.Tensor2D | null): [tf.Tensor2D, tf.Tensor2D] {
  const hs = h.arraySync();
  const wv = w.arraySync();
  const e = hs.map((seq) => seq.map((ht) => ht.reduce((s, x, d) => s + wv[d]! * Math.tanh(x), 0)));
  return softmaxPool(hs, e, mask?.arraySync(), true);
}

function softmaxPool(hs: number[][][], e: number[][], m: number[][] | undefined, tanhOut: boolean): [tf.Tensor2D, tf.Tensor2D] {
  const alphas: number[][] = [];
  const outs: number[][] = [];
  hs.forEach((seq, n) => {
    const live = seq.map((_, t) => (m ? m[n]![t]! > 0 : true));
    const max = Math.max(...e[n]!.filter((_, t) => live[t]));
    const ex = e[n]!.map((x, t) => (live[t] ? Math.exp(x - max) : 0));
    const sum = ex.reduce((a, b) => a + b, 0);
    const alpha = ex.map((x) => (sum > 0 ? x / sum : 0));
    alphas.push(alpha);
    const D = seq[0]!.length;
    const c = Array.from({ length: D }, (_, d) => seq.reduce((s, ht, t) => s + alpha[t]! * ht[d]!, 0));
    outs.push(tanhOut ? c.map(Math.tanh) : c);
  });
  return [tf.tensor2d(outs), tf.tensor2d(alphas)];
}

/**
 * Temporal input attention, literally: for each step t and each window position i,
 * e_{t,i} = v . tanh(W_h h_{t-1} + W_x x_i + b) (+ p_{i-t+T-1}); a_t = softmax_i(e_t); x~_t = sum_i a_{t,i} x_i;
 * LSTM(x~_t) in the seed's form, or with feed concat z = x_t W + x~_t W~ + h U + b.
 */
export function naiveTemporalLstm(
  x: tf.Tensor3D,
  W: tf.Tensor2D,
  U: tf.Tensor2D,
  bias: tf.Tensor1D,
  Wh: tf.Tensor2D,
  Wx: tf.Tensor2D,
  ba: tf.Tensor1D,
  v: tf.Tensor1D,
  extras: { feedKernel?: tf.Tensor2D; position?: tf.Tensor1D } = {},
): [tf.Tensor3D, tf.Tensor3D] {
  const [B, T, F] = x.shape;
  const H = U.shape[0];
  let h: tf.Tensor = tf.zeros([B, H]);
  let c: tf.Tensor = tf.zeros([B, H]);
  const outs: tf.Tensor[] = [];
  const weights: tf.Tensor[] = [];
  for (let t = 0; t < T; t++) {
    const scores: tf.Tensor[] = [];
    for (let i = 0; i < T; i++) {
      const xi = x.slice([0, i, 0], [B, 1, F]).reshape([B, F]);
      const e = tf.tanh(h.matMul(Wh).add(xi.matMul(Wx)).add(ba)).matMul(v.reshape([-1, 1]));
      const p = extras.position ? extras.position.slice([i - t + T - 1], [1]).reshape([1, 1]) : null;
      scores.push(p ? e.add(p) : e);
    }
    const a = tf.softmax(tf.concat(scores, 1)); // [B, T]
    weights.push(a);
    const xt = tf.sum(a.expandDims(2).mul(x), 1);
    const xNow = x.slice([0, t, 0], [B, 1, F]).reshape([B, F]);
    const zIn = extras.feedKernel ? xNow.matMul(W).add(xt.matMul(extras.feedKernel)) : xt.matMul(W);
    const z = zIn.add(h.matMul(U)).add(bias);
    const [zi, zf, zg, zo] = tf.split(z, 4, 1);
    c = tf
      .sigmoid(zf!)
      .mul(c)
      .add(tf.sigmoid(zi!).mul(tf.tanh(zg!)));
    h = tf.sigmoid(zo!).mul(tf.tanh(c));
    outs.push(h);
  }
  return [tf.stack(outs, 1) as tf.Tensor3D, tf.stack(weights, 1) as tf.Tensor3D];
}

/**
 * DA-RNN input attention, literally: x^k is series k over the window;
 * e_t^k = v . tanh(W_e [h_{t-1}; c_{t-1}] + U_e x^k); alpha_t = softmax_k(e_t); x~_t = alpha_t * x_t.
 */
export function naiveFeatureLstm(
  x: tf.Tensor3D,
  W: tf.Tensor2D,
  U: tf.Tensor2D,
  bias: tf.Tensor1D,
  We: tf.Tensor2D,
  Ue: tf.Tensor2D,
  v: tf.Tensor1D,
): [tf.Tensor3D, tf.Tensor3D] {
  const [B, T, F] = x.shape;
  const H = U.shape[0];
  let h: tf.Tensor = tf.zeros([B, H]);
  let c: tf.Tensor = tf.zeros([B, H]);
  const outs: tf.Tensor[] = [];
  const weights: tf.Tensor[] = [];
  for (let t = 0; t < T; t++) {
    const scores: tf.Tensor[] = [];
    for (let k = 0; k < F; k++) {
      const xk = x.slice([0, 0, k], [B, T, 1]).reshape([B, T]);
      scores.push(tf.tanh(tf.concat([h, c], 1).matMul(We).add(xk.matMul(Ue))).matMul(v.reshape([-1, 1])));
    }
    const alpha = tf.softmax(tf.concat(scores, 1)); // [B, F]
    weights.push(alpha);
    const xt = alpha.mul(x.slice([0, t, 0], [B, 1, F]).reshape([B, F]));
    const z = xt.matMul(W).add(h.matMul(U)).add(bias);
    const [zi, zf, zg, zo] = tf.split(z, 4, 1);
    c = tf
      .sigmoid(zf!)
      .mul(c)
      .add(tf.sigmoid(zi!).mul(tf.tanh(zg!)));
    h = tf.sigmoid(zo!).mul(tf.tanh(c));
    outs.push(h);
  }
  return [tf.stack(outs, 1) as tf.Tensor3D, tf.stack(weights, 1) as tf.Tensor3D];
}
