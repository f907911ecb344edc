"""Runs generated PyTorch programs forward on given weights and inputs (test/pytorch/numerics.test.ts).

Usage: python forward.py DIR. Each DIR/<case>/ holds <Model>.py, a model directory (manifest.json, model.json,
weights.bin) and inputs.json; this writes DIR/<case>/outputs.json with the output head and the attention weights.
"""

import importlib.util
import json
import os
import sys

import numpy as np
import torch


def run(case, dtype):
    program = [f for f in os.listdir(case) if f.endswith(".py") and f != "attnc_runtime.py"][0]
    sys.path.insert(0, case)
    spec = importlib.util.spec_from_file_location("program_" + os.path.basename(case), os.path.join(case, program))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rt = module.rt
    cls = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, rt.Model) and v is not rt.Model][0]
    model = cls(seed=0)
    rt.load_weights(model, case)
    model = model.to(dtype)
    model.eval()
    with open(os.path.join(case, "inputs.json")) as f:
        spec_in = json.load(f)
    x = torch.tensor(np.array(spec_in["values"]).reshape(spec_in["shape"]))
    x = x.long() if spec_in["dtype"] == "int32" else x.to(dtype)
    with torch.no_grad():
        y, attention = model(x)
    out = {"output": y.double().flatten().tolist(), "attention": {k: v.double().flatten().tolist() for k, v in attention.items()}}
    with open(os.path.join(case, "outputs.json"), "w") as f:
        json.dump(out, f)
    sys.path.remove(case)


if __name__ == "__main__":
    torch.set_num_threads(1)
    dtype = torch.float64 if len(sys.argv) > 2 and sys.argv[2] == "float64" else torch.float32
    for name in sorted(os.listdir(sys.argv[1])):
        run(os.path.join(sys.argv[1], name), dtype)
