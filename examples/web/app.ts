// The page's script: loads the model directory served beside the page (model/) with attnc's browser runtime,
// classifies the text typed, and colours each token by the attention weight the model gave it.
import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { loadModel, type AttncModel, type ClassPrediction, type Explanation } from "attnc/runtime";

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const text = $<HTMLTextAreaElement>("text");
const button = $<HTMLButtonElement>("classify");
const status = $("status");
const result = $("result");
const error = $("error");

const EXAMPLE = "Congratulations! You have been selected to receive a FREE gift card. Click here now to claim your prize.";

function fail(message: string): void {
  error.textContent = message;
  error.hidden = false;
}

/**
 * A token's colour strength, as in `attnc explain`'s heatmaps: none for the text's least attended token, full for
 * its most attended one, in proportion between (equal weights, such as a single token's, get the full colour).
 */
function alpha(w: number, min: number, max: number): number {
  return max > min ? (w - min) / (max - min) : 1;
}

/** Shows one explanation: the label, every label's probability, the tokens coloured by the pooling weights. */
function show(maxLen: number, node: string, forText: string, e: Explanation & ClassPrediction): void {
  const label = $("label");
  label.textContent = e.label;
  label.dataset["label"] = e.label;
  $("confidence").textContent = `${(e.probabilities[e.label]! * 100).toFixed(1)}%`;

  const table = $("probabilities");
  table.replaceChildren(
    ...Object.entries(e.probabilities).map(([l, p]) => {
      const row = document.createElement("tr");
      row.className = "prob";
      row.dataset["label"] = l;
      row.dataset["p"] = String(p);
      const name = document.createElement("td");
      name.textContent = l;
      const value = document.createElement("td");
      value.textContent = p.toFixed(4);
      const bar = document.createElement("td");
      const fill = document.createElement("span");
      fill.className = "bar";
      fill.style.width = `${(p * 10).toFixed(2)}rem`;
      bar.append(fill);
      row.append(name, value, bar);
      return row;
    }),
  );

  const tokens = e.tokens ?? [];
  const weights = (e.attention[node] ?? []) as number[];
  const shown = weights.slice(0, tokens.length);
  const max = Math.max(...shown);
  const min = Math.min(...shown);
  $("tokens").replaceChildren(
    ...tokens.map((t, i) => {
      const w = weights[i] ?? 0;
      const span = document.createElement("span");
      span.className = "tok";
      span.textContent = t;
      span.dataset["weight"] = String(w);
      span.title = `attention ${w.toFixed(4)}`;
      span.style.backgroundColor = `rgba(214, 39, 40, ${alpha(w, min, max)})`;
      return span;
    }),
  );
  $("node").textContent = node;
  $("min").textContent = tokens.length > 0 ? min.toFixed(3) : "";
  $("max").textContent = tokens.length > 0 ? max.toFixed(3) : "";
  $("note").textContent =
    tokens.length === 0
      ? "No words in the text: the model sees an empty sequence."
      : tokens.length >= maxLen
        ? `The model reads the first ${maxLen} tokens; the rest of the text is not shown.`
        : `${tokens.length} token${tokens.length === 1 ? "" : "s"}, as the model's tokenizer splits the text (words it never saw in training count as unknown).`;
  result.dataset["for"] = forText;
  result.hidden = false;
}

/** The backend asked for in the page's address (?backend=webgl or cpu), else wasm: TensorFlow.js's fastest without a GPU, and the command line's. */
async function chooseBackend(): Promise<void> {
  const wanted = new URLSearchParams(location.search).get("backend") ?? "wasm";
  if (!["wasm", "webgl", "cpu"].includes(wanted)) throw new Error(`?backend= must be wasm, webgl or cpu, not ${JSON.stringify(wanted)}`);
  // The wasm binaries are served beside the bundle (build.mjs copies them).
  setWasmPaths(new URL("dist/", location.href).href);
  if (!(await tf.setBackend(wanted))) await tf.ready();
}

async function main(): Promise<void> {
  try {
    await chooseBackend();
  } catch (e) {
    status.textContent = "No TensorFlow.js backend.";
    fail((e as Error).message);
    return;
  }
  let model: AttncModel;
  try {
    model = await loadModel("model/");
  } catch (e) {
    status.textContent = "The model did not load.";
    fail((e as Error).message);
    return;
  }
  const pool = model.attention.find((a) => a.kind === "pool");
  if (model.task !== "text" || model.input.kind !== "text" || pool === undefined) {
    status.textContent = `Model ${model.name} loaded.`;
    fail(`This page shows text classifiers with an attention pooling layer; ${model.name} is not one.`);
    return;
  }
  const input = model.input;
  status.textContent = `Model ${model.name} (labels: ${model.labels!.join(", ")}; up to ${input.maxLen} tokens), on TensorFlow.js's ${tf.getBackend()} backend.`;
  status.dataset["backend"] = tf.getBackend();

  // Requests are answered in order; only the newest one's answer is shown.
  let latest = 0;
  const classify = async (): Promise<void> => {
    const mine = ++latest;
    const value = text.value;
    try {
      const [e] = await model.explain([{ text: value }]);
      if (mine === latest) {
        error.hidden = true;
        show(input.maxLen, pool.node, value, e as Explanation & ClassPrediction);
      }
    } catch (err) {
      if (mine === latest) fail((err as Error).message);
    }
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  text.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => void classify(), 250);
  });
  $("form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    clearTimeout(timer);
    void classify();
  });
  text.value = EXAMPLE;
  text.disabled = false;
  button.disabled = false;
  await classify();
  document.body.dataset["ready"] = "true";
}

void main();
