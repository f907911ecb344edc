"""The same networks as attnc's benchmark, in PyTorch, for a side-by-side comparison (run by bench/train-speed.mjs).

Prints one JSON object per line: {"model", "T", "threads", "samples_per_s"} (training) and
{"section": "inference", "model", "T", "threads", "latency_ms_median", "latency_ms_p95", "samples_per_s"}
(eager mode under torch.inference_mode(): one request at a time, and batches of 64), after a first line with the
torch version and its BLAS configuration.
Usage: python torch_bench.py --lengths 50,200 --threads 1,2 --seconds 8 [--sections training,inference]
"""
import argparse
import json
import time

import torch
import torch.nn as nn


class TextClassifier(nn.Module):
    """embedding -> bidirectional LSTM -> additive attention pooling (masked) -> linear, as in attnc's spec."""

    def __init__(self, V=5000, E=64, H=64, A=64, C=2):
        super().__init__()
        self.emb = nn.Embedding(V, E, padding_idx=0)
        self.lstm = nn.LSTM(E, H, batch_first=True, bidirectional=True)
        self.W = nn.Linear(2 * H, A)
        self.v = nn.Linear(A, 1, bias=False)
        self.out = nn.Linear(2 * H, C)

    def forward(self, ids):
        mask = ids != 0
        h, _ = self.lstm(self.emb(ids))
        e = self.v(torch.tanh(self.W(h))).squeeze(-1)
        e = e.masked_fill(~mask, float("-inf"))
        alpha = torch.softmax(e, dim=1)
        return self.out((alpha.unsqueeze(-1) * h).sum(1))


class TextClassifierPacked(TextClassifier):
    """The same network with the padding masked in the LSTM as PyTorch users usually do it: packed sequences, so
    each row's backward direction starts at its last real token (TextClassifier runs both directions over the
    padding; attnc and the generated programs mask it, as this one does)."""

    def forward(self, ids):
        mask = ids != 0
        lengths = mask.sum(1).clamp(min=1)
        packed = nn.utils.rnn.pack_padded_sequence(self.emb(ids), lengths, batch_first=True, enforce_sorted=False)
        h, _ = self.lstm(packed)
        h, _ = nn.utils.rnn.pad_packed_sequence(h, batch_first=True, total_length=ids.shape[1])
        e = self.v(torch.tanh(self.W(h))).squeeze(-1)
        e = e.masked_fill(~mask, float("-inf"))
        alpha = torch.softmax(e, dim=1)
        return self.out((alpha.unsqueeze(-1) * h).sum(1))


class TemporalAttentionLSTM(nn.Module):
    """The seed's temporal input attention: e_{t,i} = v . tanh(W_h h_{t-1} + W_x x_i + b); x~_t = sum_i a_{t,i} x_i."""

    def __init__(self, F=4, H=64, A=32):
        super().__init__()
        self.cell = nn.LSTMCell(F, H)
        self.Wh = nn.Linear(H, A, bias=False)
        self.Wx = nn.Linear(F, A)
        self.v = nn.Linear(A, 1, bias=False)
        self.out = nn.Linear(H, 1)
        self.H = H

    def forward(self, x):
        B, T, _ = x.shape
        xw = self.Wx(x)  # once per sequence
        h = x.new_zeros(B, self.H)
        c = x.new_zeros(B, self.H)
        for _ in range(T):
            e = self.v(torch.tanh(xw + self.Wh(h).unsqueeze(1))).squeeze(-1)
            a = torch.softmax(e, dim=1)
            xt = (a.unsqueeze(-1) * x).sum(1)
            h, c = self.cell(xt, (h, c))
        return self.out(h)


def measure(model, x, y, loss_fn, seconds):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    step()
    step()
    n = 0
    t0 = time.perf_counter()
    while n < 3 or time.perf_counter() - t0 < seconds:
        step()
        n += 1
    return n * x.shape[0] / (time.perf_counter() - t0)


def measure_inference(model, one, many, calls, warmup, seconds):
    """Latency of one request (median and p95 over `calls` calls after `warmup`), and samples/s for batches of `many`."""
    model.eval()
    with torch.inference_mode():
        for _ in range(warmup):
            model(one)
            model(many)
        times = []
        for _ in range(calls):
            t0 = time.perf_counter()
            model(one)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        n = 0
        t0 = time.perf_counter()
        while n < 3 or time.perf_counter() - t0 < seconds:
            model(many)
            n += 1
        sps = n * many.shape[0] / (time.perf_counter() - t0)
    median = times[len(times) // 2] if len(times) % 2 else (times[len(times) // 2 - 1] + times[len(times) // 2]) / 2
    p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
    return {"latency_ms_median": round(median, 4), "latency_ms_p95": round(p95, 4), "samples_per_s": round(sps, 1)}


def text_ids(B, T, V=5000):
    lengths = torch.randint(T // 4, T + 1, (B,))
    return torch.randint(1, V, (B, T)) * (torch.arange(T).unsqueeze(0) < lengths.unsqueeze(1))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--lengths", default="50,200")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--seconds", type=float, default=8)
    p.add_argument("--forecaster", action="store_true")
    p.add_argument("--sections", default="training")
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--inference-seconds", type=float, default=4)
    a = p.parse_args()
    sections = a.sections.split(",")
    torch.manual_seed(0)
    print(json.dumps({"torch": torch.__version__, "config": torch.__config__.show()}), flush=True)
    for threads in [int(t) for t in a.threads.split(",")]:
        torch.set_num_threads(threads)
        if "inference" in sections:
            runs = [("text-classifier", T, TextClassifier(), text_ids(1, T), text_ids(64, T)) for T in [int(t) for t in a.lengths.split(",")]]
            if a.forecaster:
                runs.append(("temporal-forecaster", 24, TemporalAttentionLSTM(), torch.randn(1, 24, 4), torch.randn(64, 24, 4)))
            for model_name, T, model, one, many in runs:
                r = measure_inference(model, one, many, a.calls, a.warmup, a.inference_seconds)
                print(json.dumps({"section": "inference", "model": model_name, "T": T, "threads": threads, **r}), flush=True)
        if "training" not in sections:
            continue
        for T in [int(t) for t in a.lengths.split(",")]:
            B, V = 32, 5000
            lengths = torch.randint(T // 4, T + 1, (B,))
            ids = torch.randint(1, V, (B, T)) * (torch.arange(T).unsqueeze(0) < lengths.unsqueeze(1))
            y = torch.randint(0, 2, (B,))
            sps = measure(TextClassifier(), ids, y, nn.CrossEntropyLoss(), a.seconds)
            print(json.dumps({"model": "text-classifier", "T": T, "threads": threads, "samples_per_s": round(sps, 1)}), flush=True)
            sps = measure(TextClassifierPacked(), ids, y, nn.CrossEntropyLoss(), a.seconds)
            print(json.dumps({"model": "text-classifier-packed", "T": T, "threads": threads, "samples_per_s": round(sps, 1)}), flush=True)
        if a.forecaster:
            x = torch.randn(64, 24, 4)
            y = torch.randn(64, 1)
            sps = measure(TemporalAttentionLSTM(), x, y, nn.MSELoss(), a.seconds)
            print(json.dumps({"model": "temporal-forecaster", "T": 24, "threads": threads, "samples_per_s": round(sps, 1)}), flush=True)


if __name__ == "__main__":
    main()
