/** The worker thread of DataParallel (parallel.ts): computes the gradients of its part of each batch. */
import * as tf from "@tensorflow/tfjs";
import { parentPort, workerData } from "node:worker_threads";
import { selectBackend, type BackendChoice } from "./backend.js";
import { registerKernels } from "./kernels.js";
import { Dropout, registerLayers } from "./layers.js";
import { readInto, slots, type PartMessage, type PartReply, type WorkerSetup } from "./parallel.js";
import { batchGradients } from "./train.js";

const setup = workerData as WorkerSetup;
registerLayers();
registerKernels();
await selectBackend(setup.backend === "tensorflow" ? "node" : (setup.backend as BackendChoice));
const model = await tf.models.modelFromJSON(JSON.parse(setup.modelJson) as tf.io.ModelJSON);
const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
const drops = model.layers.filter((l): l is Dropout => l instanceof Dropout);
for (const d of drops) d.shard = 1;
const weights = slots(setup.weights, setup.offsets);
const grads = slots(setup.grads, setup.offsets);

parentPort!.on("message", (m: PartMessage) => {
  let reply: PartReply;
  try {
    tf.tidy(() => vars.forEach((v, i) => v.assign(tf.tensor(weights[i]!, v.shape, "float32"))));
    drops.forEach((d, i) => (d.streamPosition = m.dropout[i]!));
    const x = tf.tensor(m.x, m.xShape, m.xDtype);
    const y = tf.tensor(m.y, m.yShape, m.yDtype);
    const r = batchGradients(model, vars, setup.loss, setup.kind, x, y, setup.scales ?? null, m.weight);
    vars.forEach((v, i) => readInto(r.grads[v.name]!, grads[i]!));
    tf.dispose([x, y, ...Object.values(r.grads)]);
    reply = { ok: true, loss: r.loss, metricSum: r.metricSum };
  } catch (e) {
    reply = { ok: false, message: e instanceof Error ? e.message : String(e) };
  }
  parentPort!.postMessage(reply);
});
