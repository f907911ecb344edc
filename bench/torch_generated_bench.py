"""The benchmark's networks as `attnc build --target pytorch` writes them, trained as the generated programs train
(run by bench/train-speed.mjs, beside bench/torch_bench.py's hand-written networks on the same batches).

Prints one JSON object per line: {"model", "T", "threads", "samples_per_s"}.
Usage: python torch_generated_bench.py --programs DIR --lengths 50,200 --threads 1,2 --seconds 8 [--forecaster]
DIR holds attnc_runtime.py and BenchText<T>.py for each length (and BenchForecast.py).
"""
import argparse
import importlib.util
import json
import os
import sys
import time

import torch


def load(directory, name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(directory, name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def measure(model, x, y, loss, seconds, rt):
    """Training steps as the generated programs take them: forward, the loss, backward, Adam."""
    params = [p for _, p in model.ir_weights()]
    opt = rt.make_optimizer({"kind": "adam", "lr": 1e-3}, params)
    model.train()

    def step():
        opt.zero_grad(set_to_none=False)
        pred, _ = model(x)
        rt.loss_of(loss, pred, y).backward()
        opt.step()

    step()
    step()
    n = 0
    t0 = time.perf_counter()
    while n < 3 or time.perf_counter() - t0 < seconds:
        step()
        n += 1
    return n * x.shape[0] / (time.perf_counter() - t0)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--programs", required=True)
    p.add_argument("--lengths", default="50,200")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--seconds", type=float, default=8)
    p.add_argument("--forecaster", action="store_true")
    a = p.parse_args()
    sys.path.insert(0, a.programs)
    import attnc_runtime as rt

    torch.manual_seed(0)
    for threads in [int(t) for t in a.threads.split(",")]:
        torch.set_num_threads(threads)
        for T in [int(t) for t in a.lengths.split(",")]:
            B, V = 32, 5000
            lengths = torch.randint(T // 4, T + 1, (B,))
            ids = torch.randint(1, V, (B, T)) * (torch.arange(T).unsqueeze(0) < lengths.unsqueeze(1))
            y = torch.randint(0, 2, (B,))
            sps = measure(load(a.programs, "BenchText%d" % T)(0), ids, y, "cross_entropy", a.seconds, rt)
            print(json.dumps({"model": "text-classifier", "T": T, "threads": threads, "samples_per_s": round(sps, 1)}), flush=True)
        if a.forecaster:
            x = torch.randn(64, 24, 4)
            y = torch.randn(64)
            sps = measure(load(a.programs, "BenchForecast")(0), x, y, "mse", a.seconds, rt)
            print(json.dumps({"model": "temporal-forecaster", "T": 24, "threads": threads, "samples_per_s": round(sps, 1)}), flush=True)


if __name__ == "__main__":
    main()
