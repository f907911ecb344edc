import { describe, expect, it } from "vitest";
import { chain, check, codes, model, node } from "../helpers.js";

describe("shape inference and parameter counts", () => {
  it("embedding -> bilstm(concat) -> attention_pool -> dense, with Keras' parameter counts", async () => {
    const m = await model(
      chain("int[T]", "embedding(1000, 16, mask_zero: true) -> bilstm(8) -> attention_pool(4) as attn -> dense(3, activation: softmax) as out"),
    );
    expect(node(m, "embedding")).toMatchObject({ shape: ["B", "T", 16], mask: true, params: 16000 });
    // 2 directions x 4 gates x H x (F + H + 1)
    expect(node(m, "bilstm")).toMatchObject({ shape: ["B", "T", 16], mask: true, params: 2 * 4 * 8 * (16 + 8 + 1) });
    expect(node(m, "attn")).toMatchObject({ shape: ["B", 16], mask: false, params: 16 * 4 + 4 + 4, ports: { weights: ["B", "T"] } });
    expect(node(m, "out")).toMatchObject({ shape: ["B", 3], params: 16 * 3 + 3 });
    expect(m.params).toBe(16000 + 1600 + 72 + 51);
    expect(m.outputs).toEqual(["out"]);
  });

  it.each([
    ["concat", 16],
    ["sum", 8],
    ["ave", 8],
    ["mul", 8],
  ])("bilstm merge %s gives %i features", async (merge, d) => {
    const m = await model(chain("int[T]", `embedding(10, 4) -> bilstm(8, merge: ${merge}) -> last -> dense(1)`));
    expect(node(m, "bilstm").shape).toEqual(["B", "T", d]);
  });

  it("temporal input attention in the seed's form adds W_h, W_x, b, v and exports weights [B, T, T], for any T", async () => {
    const m = await model(chain("float[T, F = 3]", "lstm(64, input_attention: temporal(units: 32, feed: replace, position: none)) as enc -> last -> dense(1)"));
    const enc = node(m, "enc");
    expect(enc.shape).toEqual(["B", "T", 64]);
    expect(enc.ports).toEqual({ weights: ["B", "T", "T"] });
    expect(enc.weights!.map((w) => [w.name, w.shape])).toEqual([
      ["kernel", [3, 256]],
      ["recurrent_kernel", [64, 256]],
      ["bias", [256]],
      ["attention_W_h", [64, 32]],
      ["attention_W_x", [3, 32]],
      ["attention_b", [32]],
      ["attention_v", [32]],
    ]);
    expect(enc.params).toBe(4 * 64 * (3 + 64 + 1) + 32 * (64 + 3 + 2));
  });

  it("temporal input attention by default feeds [x_t ; x~_t] and learns a bias per offset: W~ [F, 4H], p [2T - 1]", async () => {
    const m = await model(chain("float[T = 10, F = 3]", "lstm(64, input_attention: temporal(32)) as enc -> last -> dense(1)"));
    const enc = node(m, "enc");
    expect(enc.attrs["input_attention"]).toEqual({ kind: "temporal", units: 32, feed: "concat", position: "offset" });
    expect(enc.weights!.slice(7).map((w) => [w.name, w.shape])).toEqual([
      ["attention_kernel", [3, 256]],
      ["attention_p", [19]],
    ]);
    expect(enc.params).toBe(4 * 64 * (3 + 64 + 1) + 32 * (64 + 3 + 2) + 3 * 256 + 19);
  });

  it("temporal input attention with position offset needs a fixed T, and says how to do without", async () => {
    const r = await check(chain("float[T, F = 3]", "lstm(8, input_attention: temporal(4)) as enc -> last -> dense(1)"));
    expect(r.ok).toBe(false);
    const d = r.diagnostics.find((x) => x.message.includes("position: offset"));
    expect(d?.message).toContain("position: none");
  });

  it("feature input attention needs a fixed T and exports weights [B, T, F]", async () => {
    const m = await model(chain("float[T = 10, F = 4]", "lstm(8, input_attention: features(5)) as enc -> last -> dense(1)"));
    const enc = node(m, "enc");
    expect(enc.ports).toEqual({ weights: ["B", "T", "F"] });
    expect(enc.weights!.slice(3).map((w) => [w.name, w.shape])).toEqual([
      ["attention_W_e", [16, 5]],
      ["attention_U_e", [10, 5]],
      ["attention_v", [5]],
    ]);
  });

  it("zhou attention has a single score vector w and no units", async () => {
    const m = await model(chain("int[T]", "embedding(10, 4) -> bilstm(6, merge: sum) -> attention_pool(score: zhou) -> dense(2, activation: softmax)"));
    expect(node(m, "attention_pool")).toMatchObject({ shape: ["B", 6], params: 6 });
  });

  it("stacks: bilstm -> bilstm reads the merged width", async () => {
    const m = await model(chain("int[T]", "embedding(10, 4) -> bilstm(6) -> bilstm(3, merge: ave) -> max_pool -> dense(1)"));
    expect(node(m, "bilstm_1")).toMatchObject({ shape: ["B", "T", 3], params: 2 * 4 * 3 * (12 + 3 + 1) });
  });

  it("tracks the mask from embedding(mask_zero) through recurrent layers and dropout to the reduction", async () => {
    const m = await model(chain("int[T]", "embedding(10, 4, mask_zero: true) -> dropout(0.1) -> lstm(3) -> dense(2) -> mean_pool -> dense(1)"));
    expect(m.nodes.map((n) => [n.name, n.mask])).toEqual([
      ["embedding", true],
      ["dropout", true],
      ["lstm", true],
      ["dense", true],
      ["mean_pool", false],
      ["dense_1", false],
    ]);
  });

  it("no mask without mask_zero", async () => {
    const m = await model(chain("int[T]", "embedding(10, 4) -> lstm(3) -> last -> dense(1)"));
    expect(m.nodes.every((n) => n.mask === false)).toBe(true);
  });

  it("auto names skip names the user chose", async () => {
    const m = await model(chain("int[T]", "embedding(10, 4) as lstm -> lstm(3) -> lstm(3) -> last -> dense(1)"));
    expect(m.nodes.map((n) => n.name)).toEqual(["lstm", "lstm_1", "lstm_2", "last", "dense"]);
  });

  it("binds T from the tokenizer and F from the features list", async () => {
    const r = await check(
      `model M {\n  input x: float[T, F]\n  x -> lstm(4) -> last -> dense(1)\n}\ndata M {\n  source: csv("s.csv", features: ["a", "b"], target: "a")\n  window: 12\n}\n`,
    );
    expect(r.diagnostics).toEqual([]);
    expect(r.models[0]!.dims).toEqual({ T: 12, F: 2 });
    expect(node(r.models[0]!, "lstm").params).toBe(4 * 4 * (2 + 4 + 1));
  });

  it("fills defaults from the signature table", async () => {
    const r = await check(
      `model M {\n  input x: int[T]\n  x -> embedding(10, 4) -> bilstm(3) -> last -> dense(2, activation: softmax)\n}\ndata M {\n  source: csv("r.csv", text: "t", label: "l")\n  tokenizer: words(max_len: 8)\n}\ntrain M {\n  loss: cross_entropy\n}\n`,
    );
    const m = r.models[0]!;
    expect(node(m, "bilstm").attrs).toEqual({ units: 3, merge: "concat", recurrent_activation: "sigmoid", unit_forget_bias: true });
    expect(m.data!["tokenizer"]).toEqual({ kind: "words", max_len: 8, lowercase: true, min_count: 1, vocab: 10 });
    expect(m.train).toMatchObject({ loss: "cross_entropy", batch: 32, epochs: 10, metrics: [], seed: 0, shuffle: true });
  });
});

describe("wrong combinations name both ends", () => {
  it("lstm on a pooled vector points at the lstm and at the producer", async () => {
    const r = await check(chain("int[T]", "embedding(10, 4) -> last -> lstm(3) -> dense(1)"));
    expect(codes(r.diagnostics)).toEqual(["3:36 ATN3001"]);
    expect(r.diagnostics[0]!.related![0]!.span.column).toBe(28);
  });

  it("a broken node does not cascade into its consumers", async () => {
    const r = await check(chain("int[T]", "embedding(10, 4) -> bilstn(3) -> last -> dense(1)"));
    expect(codes(r.diagnostics)).toEqual(["3:28 ATN2001"]);
  });

  it("reports every independent error of a model together, sorted by position", async () => {
    const r = await check(chain("float[T, F = 2]", "lstm(units: 0) -> last -> dropout(2) -> dense(1, activation: softmx)"));
    expect(codes(r.diagnostics)).toEqual(["3:20 ATN2005", "3:42 ATN2005", "3:69 ATN2003"]);
    expect(r.diagnostics[2]!.suggestion).toBe("softmax");
  });
});
