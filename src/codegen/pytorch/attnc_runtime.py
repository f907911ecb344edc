"""attnc's PyTorch runtime: the layers of docs/language.md written in PyTorch, with the IR's weight names, gate
order and layouts, and the code that loads and writes attnc model directories (TensorFlow.js layers format).

The programs `attnc build --target pytorch` writes import this module from their own folder. It uses only
torch, numpy and the Python standard library.
"""

import json
import math
import os

import numpy as np
import torch
from torch import nn

# Large enough that exp(-MASK_NEG) is exactly 0 in float32 (as attnc's masked softmax).
MASK_NEG = 1e9


class AttncError(Exception):
    """A problem with the user's input (data file, model directory, flags): one line, and an exit code."""

    def __init__(self, message, code=2):
        super().__init__(message)
        self.code = code


# ---- initial values (docs/language.md, "Initial values": the same distributions, drawn by torch)


def glorot_uniform(shape, gen):
    fan_in, fan_out = (shape[0], shape[1]) if len(shape) == 2 else (shape[0], shape[0])
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1) * limit


def uniform(shape, limit, gen):
    return (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1) * limit


def orthogonal(shape, gen):
    rows, cols = shape
    a = torch.randn((max(rows, cols), min(rows, cols)), generator=gen, dtype=torch.float64)
    q, r = torch.linalg.qr(a)
    q = q * torch.sign(torch.diagonal(r))
    return q.t() if rows < cols else q


def lstm_bias(units, unit_forget_bias):
    b = torch.zeros(4 * units, dtype=torch.float64)
    if unit_forget_bias:
        b[units : 2 * units] = 1
    return b


def generator(seed):
    g = torch.Generator()
    g.manual_seed(int(seed))
    return g


# ---- sequence operations


def hard_sigmoid(z):
    return torch.clamp(z * 0.2 + 0.5, 0.0, 1.0)


def gate(z, activation):
    return hard_sigmoid(z) if activation == "hard_sigmoid" else torch.sigmoid(z)


def lstm_cell(z, c, units, activation):
    """Gates i, f, g, o in blocks of H: c' = f c + i g, h' = o tanh(c')."""
    h4 = units
    i = gate(z[:, 0:h4], activation)
    f = gate(z[:, h4 : 2 * h4], activation)
    g = torch.tanh(z[:, 2 * h4 : 3 * h4])
    o = gate(z[:, 3 * h4 :], activation)
    c_new = f * c + i * g
    return o * torch.tanh(c_new), c_new


def carry(m, new, old):
    """Where m is 0 (a masked step) the old state carries over."""
    return new if m is None else torch.where(m > 0, new, old)


def masked_softmax(e, mask):
    """Softmax over the last axis; masked positions get exactly 0, and an all-masked row gives all 0."""
    if mask is None:
        return torch.softmax(e, dim=-1)
    shifted = e - torch.amax(e + (mask - 1) * MASK_NEG, dim=-1, keepdim=True)
    ex = torch.exp(torch.clamp(shifted, max=0.0)) * mask
    return ex / torch.clamp(ex.sum(dim=-1, keepdim=True), min=1e-30)


def lstm_sequence(x, kernel, recurrent_kernel, bias, mask, activation, reverse=False):
    """Every step's h of an LSTM over x [B, T, F]; masked steps carry h and c over."""
    b_size, steps, _ = x.shape
    units = recurrent_kernel.shape[0]
    xw = torch.matmul(x, kernel) + bias
    h = x.new_zeros((b_size, units))
    c = x.new_zeros((b_size, units))
    outs = [None] * steps
    order = range(steps - 1, -1, -1) if reverse else range(steps)
    for t in order:
        h_new, c_new = lstm_cell(xw[:, t] + torch.matmul(h, recurrent_kernel), c, units, activation)
        m = None if mask is None else mask[:, t : t + 1]
        h = carry(m, h_new, h)
        c = carry(m, c_new, c)
        outs[t] = h
    return torch.stack(outs, dim=1)


# ---- layers: each takes (x, mask) and returns (y, mask, attention weights or None)


class Layer(nn.Module):
    """A layer with weights named as the IR names them, in the IR's order."""

    weight_names = ()

    def add_weight(self, name, value):
        self.register_parameter(name, nn.Parameter(value.to(torch.float32)))

    def named_ir_weights(self):
        return [(name, getattr(self, name)) for name in self.weight_names]


class Embedding(Layer):
    def __init__(self, vocab, dim, mask_zero, seed):
        super().__init__()
        self.mask_zero = mask_zero
        self.weight_names = ("embeddings",)
        self.add_weight("embeddings", uniform((vocab, dim), 0.05, generator(seed)))

    def forward(self, ids, mask):
        y = self.embeddings[ids.long()]
        return y, ((ids != 0).to(y.dtype) if self.mask_zero else None), None


def add_cell(layer, prefix, features, units, unit_forget_bias, seed, kernel_scale=1.0):
    layer.add_weight(prefix + "kernel", glorot_uniform((features, 4 * units), generator(seed)) * kernel_scale)
    layer.add_weight(prefix + "recurrent_kernel", orthogonal((units, 4 * units), generator(seed + 1)))
    layer.add_weight(prefix + "bias", lstm_bias(units, unit_forget_bias))
    return (prefix + "kernel", prefix + "recurrent_kernel", prefix + "bias")


class Lstm(Layer):
    def __init__(self, features, steps, units, recurrent_activation, unit_forget_bias, input_attention, seed):
        super().__init__()
        self.units = units
        self.activation = recurrent_activation
        self.attention = input_attention
        kind = input_attention["kind"] if input_attention else None
        names = list(add_cell(self, "", features, units, unit_forget_bias, seed, features if kind == "features" else 1.0))
        if kind == "temporal":
            a = input_attention["units"]
            self.add_weight("attention_W_h", glorot_uniform((units, a), generator(seed + 2)))
            self.add_weight("attention_W_x", glorot_uniform((features, a), generator(seed + 3)))
            self.add_weight("attention_b", torch.zeros(a))
            self.add_weight("attention_v", uniform((a,), math.sqrt(6.0 / (a + 1)), generator(seed + 4)))
            names += ["attention_W_h", "attention_W_x", "attention_b", "attention_v"]
            if input_attention["feed"] == "concat":
                self.add_weight("attention_kernel", torch.zeros((features, 4 * units)))
                names.append("attention_kernel")
            if input_attention["position"] == "offset":
                self.add_weight("attention_p", torch.zeros(2 * steps - 1))
                names.append("attention_p")
        elif kind == "features":
            a = input_attention["units"]
            self.add_weight("attention_W_e", glorot_uniform((2 * units, a), generator(seed + 2)))
            self.add_weight("attention_U_e", glorot_uniform((steps, a), generator(seed + 3)))
            self.add_weight("attention_v", torch.zeros(a))
            names += ["attention_W_e", "attention_U_e", "attention_v"]
        self.weight_names = tuple(names)

    def forward(self, x, mask):
        if self.attention is None:
            return lstm_sequence(x, self.kernel, self.recurrent_kernel, self.bias, mask, self.activation), mask, None
        if self.attention["kind"] == "temporal":
            y, w = self.temporal(x, mask)
        else:
            y, w = self.features(x, mask)
        return y, mask, w

    def temporal(self, x, mask):
        b_size, steps, _ = x.shape
        units = self.units
        concat = self.attention["feed"] == "concat"
        offset = self.attention["position"] == "offset"
        xw = torch.matmul(x, self.attention_W_x) + self.attention_b  # [B, T, A], once
        zx = torch.matmul(x, self.kernel) if concat else None  # x_t W, once
        cell_kernel = self.attention_kernel if concat else self.kernel
        h = x.new_zeros((b_size, units))
        c = x.new_zeros((b_size, units))
        hs, weights = [], []
        for t in range(steps):
            u = torch.tanh(xw + torch.matmul(h, self.attention_W_h).unsqueeze(1))
            e = torch.matmul(u, self.attention_v)  # [B, T]
            if offset:
                e = e + self.attention_p[steps - 1 - t : 2 * steps - 1 - t]
            a = masked_softmax(e, mask)
            mixed = torch.sum(a.unsqueeze(2) * x, dim=1)
            z = torch.matmul(mixed, cell_kernel) + torch.matmul(h, self.recurrent_kernel) + self.bias
            if concat:
                z = z + zx[:, t]
            h_new, c_new = lstm_cell(z, c, units, self.activation)
            m = None if mask is None else mask[:, t : t + 1]
            h = carry(m, h_new, h)
            c = carry(m, c_new, c)
            hs.append(h)
            weights.append(a)
        return torch.stack(hs, dim=1), torch.stack(weights, dim=1)

    def features(self, x, mask):
        b_size, steps, _ = x.shape
        units = self.units
        xu = torch.matmul(x.transpose(1, 2), self.attention_U_e)  # [B, F, A], once
        h = x.new_zeros((b_size, units))
        c = x.new_zeros((b_size, units))
        hs, weights = [], []
        for t in range(steps):
            u = torch.tanh(xu + torch.matmul(torch.cat([h, c], dim=1), self.attention_W_e).unsqueeze(1))
            alpha = torch.softmax(torch.matmul(u, self.attention_v), dim=-1)  # [B, F]
            z = torch.matmul(alpha * x[:, t], self.kernel) + torch.matmul(h, self.recurrent_kernel) + self.bias
            h_new, c_new = lstm_cell(z, c, units, self.activation)
            m = None if mask is None else mask[:, t : t + 1]
            h = carry(m, h_new, h)
            c = carry(m, c_new, c)
            hs.append(h)
            weights.append(alpha)
        return torch.stack(hs, dim=1), torch.stack(weights, dim=1)


class BiLstm(Layer):
    def __init__(self, features, units, merge, recurrent_activation, unit_forget_bias, seed):
        super().__init__()
        self.merge = merge
        self.activation = recurrent_activation
        names = add_cell(self, "forward_", features, units, unit_forget_bias, seed)
        names += add_cell(self, "backward_", features, units, unit_forget_bias, seed + 100)
        self.weight_names = names

    def forward(self, x, mask):
        f = lstm_sequence(x, self.forward_kernel, self.forward_recurrent_kernel, self.forward_bias, mask, self.activation)
        r = lstm_sequence(
            x, self.backward_kernel, self.backward_recurrent_kernel, self.backward_bias, mask, self.activation, reverse=True
        )
        if self.merge == "concat":
            y = torch.cat([f, r], dim=2)
        elif self.merge == "sum":
            y = f + r
        elif self.merge == "ave":
            y = (f + r) * 0.5
        else:
            y = f * r
        return y, mask, None


class AttentionPool(Layer):
    def __init__(self, features, units, score, seed):
        super().__init__()
        self.score = score
        if score == "zhou":
            self.add_weight("w", uniform((features,), math.sqrt(6.0 / (features + 1)), generator(seed)))
            self.weight_names = ("w",)
        else:
            self.add_weight("W", glorot_uniform((features, units), generator(seed)))
            self.add_weight("b", torch.zeros(units))
            self.add_weight("v", uniform((units,), math.sqrt(6.0 / (units + 1)), generator(seed + 1)))
            self.weight_names = ("W", "b", "v")

    def forward(self, h, mask):
        if self.score == "zhou":
            e = torch.matmul(torch.tanh(h), self.w)
        else:
            e = torch.matmul(torch.tanh(torch.matmul(h, self.W) + self.b), self.v)
        alpha = masked_softmax(e, mask)
        out = torch.sum(alpha.unsqueeze(2) * h, dim=1)
        return (torch.tanh(out) if self.score == "zhou" else out), None, alpha


class Reduce(Layer):
    def __init__(self, mode):
        super().__init__()
        self.mode = mode

    def forward(self, h, mask):
        steps = h.shape[1]
        if self.mode == "last":
            if mask is None:
                return h[:, steps - 1], None, None
            pos = torch.amax(mask * torch.arange(1, steps + 1, dtype=h.dtype, device=h.device), dim=1)
            idx = torch.clamp(pos, min=1).long() - 1
            picked = h[torch.arange(h.shape[0], device=h.device), idx]
            return picked * (pos > 0).to(h.dtype).unsqueeze(1), None, None
        if self.mode == "mean":
            if mask is None:
                return h.mean(dim=1), None, None
            total = torch.sum(h * mask.unsqueeze(2), dim=1)
            return total / torch.clamp(mask.sum(dim=1, keepdim=True), min=1.0), None, None
        if mask is None:
            return torch.amax(h, dim=1), None, None
        any_step = (mask.sum(dim=1, keepdim=True) > 0).to(h.dtype)
        return torch.amax(h + ((mask - 1) * MASK_NEG).unsqueeze(2), dim=1) * any_step, None, None


class Dropout(Layer):
    """Inverted dropout in training. Each call draws from the stream seed * 1000003 + call number; the mask is
    drawn for the whole global batch and each process keeps its own rows, so a batch split between processes
    sees the masks a single process would."""

    def __init__(self, rate, seed):
        super().__init__()
        self.rate = rate
        self.seed = seed
        self.calls = 0
        self.shard = (0, None)  # (first row of this process's part, rows of the global batch)

    def forward(self, x, mask):
        if not self.training or self.rate == 0:
            return x, mask, None
        start, total = self.shard
        total = x.shape[0] if total is None else total
        g = generator((self.seed * 1000003 + self.calls) % (2**63))
        self.calls += 1
        u = torch.rand((total,) + tuple(x.shape[1:]), generator=g)[start : start + x.shape[0]]
        keep = (u >= self.rate).to(x.dtype).to(x.device)
        return x * keep / (1 - self.rate), mask, None


class Dense(Layer):
    def __init__(self, features, units, activation, seed):
        super().__init__()
        self.activation = activation
        self.add_weight("kernel", glorot_uniform((features, units), generator(seed)))
        self.add_weight("bias", torch.zeros(units))
        self.weight_names = ("kernel", "bias")

    def forward(self, x, mask):
        z = torch.matmul(x, self.kernel) + self.bias
        a = self.activation
        if a == "relu":
            z = torch.relu(z)
        elif a == "tanh":
            z = torch.tanh(z)
        elif a == "sigmoid":
            z = torch.sigmoid(z)
        elif a == "softmax":
            z = torch.softmax(z, dim=-1)
        return z, (mask if x.dim() == 3 else None), None


def layer_seed(seed, index):
    """A node's layer seed, as attnc's (docs/language.md, "Initial values")."""
    return ((seed + 1) * 7919 + index * 104729) % 2147483647


class Model(nn.Module):
    """Base of the generated models: `layers` holds the IR's nodes in order, `node_names` their names."""

    node_names = ()

    def ir_weights(self):
        """Every weight as (`<node>/<weight>`, parameter), in model.json's order."""
        out = []
        for name, layer in zip(self.node_names, self.layers):
            for w, p in layer.named_ir_weights():
                out.append((name + "/" + w, p))
        return out

    def dropouts(self):
        """The dropout layers by node name."""
        return [(name, layer) for name, layer in zip(self.node_names, self.layers) if isinstance(layer, Dropout)]


# ---- TensorFlow.js layers weights (model.json + weights.bin)


def read_json(path, what):
    try:
        with open(path, "rb") as f:
            data = f.read(64 * 1024 * 1024 + 1)
    except OSError as e:
        raise AttncError("cannot read %s: %s" % (what, e.strerror or e))
    if len(data) > 64 * 1024 * 1024:
        raise AttncError("%s is larger than 64 MiB" % what)
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise AttncError("%s is not valid JSON (%s)" % (what, e))


def plain_name(name):
    return isinstance(name, str) and name != "" and "/" not in name and "\\" not in name and not name.startswith(".")


def load_weights(model, directory):
    """Loads the weights of an attnc model directory (its current checkpoint) into `model`: every weight the
    model has must be there with its shape; the weights file must be exactly the size its manifest says."""
    shown = directory
    manifest = read_json(os.path.join(directory, "manifest.json"), shown + "/manifest.json")
    model_file = manifest.get("model") if isinstance(manifest, dict) else None
    if not plain_name(model_file):
        raise AttncError("%s/manifest.json names no model file" % shown)
    topo = read_json(os.path.join(directory, model_file), "%s/%s" % (shown, model_file))
    groups = topo.get("weightsManifest") if isinstance(topo, dict) else None
    if not isinstance(groups, list) or len(groups) == 0:
        raise AttncError("%s/%s has no weightsManifest" % (shown, model_file))
    specs, blobs = [], []
    for g in groups:
        paths = g.get("paths") if isinstance(g, dict) else None
        if not isinstance(paths, list) or not isinstance(g.get("weights"), list):
            raise AttncError("%s/%s: a weights group needs paths and weights" % (shown, model_file))
        for p in paths:
            if not plain_name(p):
                raise AttncError("%s/%s: weights path %s is not a plain file name" % (shown, model_file, json.dumps(p)))
            try:
                with open(os.path.join(directory, p), "rb") as f:
                    blobs.append(f.read())
            except OSError as e:
                raise AttncError("cannot read %s/%s: %s" % (shown, p, e.strerror or e))
        specs += g["weights"]
    data = b"".join(blobs)
    params = dict(model.ir_weights())
    offset = 0
    seen = set()
    for s in specs:
        name, shape = s.get("name"), s.get("shape")
        if s.get("dtype", "float32") != "float32" or not isinstance(shape, list):
            raise AttncError("%s/%s: weight %s is not a float32 tensor" % (shown, model_file, json.dumps(name)))
        if name not in params:
            raise AttncError("%s/%s: weight %s is not one of this model's" % (shown, model_file, json.dumps(name)))
        p = params[name]
        if list(p.shape) != shape:
            raise AttncError("%s/%s: weight %s has shape %s, the model needs %s" % (shown, model_file, name, shape, list(p.shape)))
        n = int(np.prod(shape)) if len(shape) > 0 else 1
        if offset + 4 * n > len(data):
            raise AttncError("%s: the weights file is shorter than %s says" % (shown, model_file))
        values = np.frombuffer(data, dtype="<f4", count=n, offset=offset).reshape(shape)
        with torch.no_grad():
            p.copy_(torch.from_numpy(values.copy()).to(p.dtype))
        offset += 4 * n
        seen.add(name)
    if offset != len(data):
        raise AttncError("%s: the weights file is longer than %s says" % (shown, model_file))
    missing = [n for n in params if n not in seen]
    if missing:
        raise AttncError("%s/%s lacks weight %s" % (shown, model_file, missing[0]))
