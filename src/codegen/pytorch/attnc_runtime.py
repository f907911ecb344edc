"""attnc's PyTorch runtime: the layers of docs/language.md written in PyTorch, with the IR's weight names, gate
order and layouts, and the code that loads and writes attnc model directories (TensorFlow.js layers format).

The programs `attnc build --target pytorch` writes import this module from their own folder. It uses only
torch, numpy and the Python standard library.
"""

import calendar
import json
import math
import os
import re
import stat
import sys
import time
import unicodedata

try:
    import numpy as np
    import torch
    from torch import nn
except ImportError as missing:
    sys.stderr.write("error: this program needs torch and numpy (%s): python3 -m pip install torch numpy\n" % missing)
    raise SystemExit(2)

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


def trailing_mask(mask):
    """Whether every row of the mask is real steps then padding (what the tokenizer makes)."""
    return mask is None or bool(torch.all(mask[:, 1:] <= mask[:, :-1]))


def fused_lstm_sequence(x, kernel, recurrent_kernel, bias, mask, reverse):
    """The same LSTM on torch's fused kernel, which has attnc's gate order (i, f, g, o): W_ih = kernel^T,
    W_hh = recurrent_kernel^T, b_ih = bias, b_hh = 0. With trailing padding, a step's output depends only on the
    steps before it, so the forward direction runs over the padded rows as they are and its padding steps then
    take the last real step's h; the backward direction reads each row's real steps reversed (the padding after
    them) and its padding steps are 0, the zero state carried over them."""
    b_size, steps, _ = x.shape
    units = recurrent_kernel.shape[0]
    params = [kernel.t(), recurrent_kernel.t(), bias, torch.zeros_like(bias)]
    h0 = x.new_zeros((1, b_size, units))
    if mask is None:
        xs = x.flip(1) if reverse else x
        y = torch.lstm(xs, (h0, h0), params, True, 1, 0.0, False, False, True)[0]
        return y.flip(1) if reverse else y
    lengths = mask.sum(dim=1).long().unsqueeze(1)
    t = torch.arange(steps, device=x.device).unsqueeze(0)
    real = t < lengths
    if reverse:
        idx = torch.where(real, lengths - 1 - t, t)
        x = x.gather(1, idx.unsqueeze(2).expand(-1, -1, x.shape[2]))
    y = torch.lstm(x, (h0, h0), params, True, 1, 0.0, False, False, True)[0]
    if reverse:
        return y.gather(1, idx.unsqueeze(2).expand(-1, -1, units)) * real.unsqueeze(2).to(y.dtype)
    last = y[torch.arange(b_size, device=x.device), torch.clamp(lengths[:, 0] - 1, min=0)].unsqueeze(1)
    return torch.where(real.unsqueeze(2), y, last) * (lengths > 0).to(y.dtype).unsqueeze(2)


def lstm_sequence(x, kernel, recurrent_kernel, bias, mask, activation, reverse=False):
    """Every step's h of an LSTM over x [B, T, F]; masked steps carry h and c over."""
    if activation == "sigmoid" and x.shape[0] > 0 and trailing_mask(mask):
        return fused_lstm_sequence(x, kernel, recurrent_kernel, bias, mask, reverse)
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


def gru_sequence(x, kernel, recurrent_kernel, bias, mask, activation, reset_after, reverse=False):
    """Every step's h of a GRU over x [B, T, F] (gates z, r, h in blocks of H); masked steps carry h over.
    reset_after: hh = tanh(x W_h + b_h + r (h U_h + b'_h)), bias [2, 3H] (input row, recurrent row);
    otherwise hh = tanh(x W_h + (r h) U_h + b_h), bias [3H]. h' = z h + (1 - z) hh."""
    b_size, steps, _ = x.shape
    units = recurrent_kernel.shape[0]
    xw = torch.matmul(x, kernel) + (bias[0] if reset_after else bias)
    u_zr = recurrent_kernel[:, : 2 * units]
    u_h = recurrent_kernel[:, 2 * units :]
    h = x.new_zeros((b_size, units))
    outs = [None] * steps
    order = range(steps - 1, -1, -1) if reverse else range(steps)
    for t in order:
        hz = torch.matmul(h, u_zr)
        if reset_after:
            hz = hz + bias[1, : 2 * units]
        z = gate(xw[:, t, :units] + hz[:, :units], activation)
        r = gate(xw[:, t, units : 2 * units] + hz[:, units:], activation)
        if reset_after:
            hh = torch.tanh(xw[:, t, 2 * units :] + r * (torch.matmul(h, u_h) + bias[1, 2 * units :]))
        else:
            hh = torch.tanh(xw[:, t, 2 * units :] + torch.matmul(r * h, u_h))
        h_new = z * h + (1 - z) * hh
        h = carry(None if mask is None else mask[:, t : t + 1], h_new, h)
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
        names = list(add_cell(
            self,
            "",
            features,
            units,
            unit_forget_bias,
            seed,
            features if kind == "features" else 1.0,
        ))
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
        f = lstm_sequence(
            x,
            self.forward_kernel,
            self.forward_recurrent_kernel,
            self.forward_bias,
            mask,
            self.activation,
        )
        r = lstm_sequence(
            x,
            self.backward_kernel,
            self.backward_recurrent_kernel,
            self.backward_bias,
            mask,
            self.activation,
            reverse=True,
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


def add_gru_cell(layer, prefix, features, units, reset_after, seed):
    layer.add_weight(prefix + "kernel", glorot_uniform((features, 3 * units), generator(seed)))
    layer.add_weight(prefix + "recurrent_kernel", orthogonal((units, 3 * units), generator(seed + 1)))
    layer.add_weight(prefix + "bias", torch.zeros((2, 3 * units) if reset_after else (3 * units,), dtype=torch.float64))
    return (prefix + "kernel", prefix + "recurrent_kernel", prefix + "bias")


def merge_directions(f, r, merge):
    if merge == "concat":
        return torch.cat([f, r], dim=2)
    if merge == "sum":
        return f + r
    if merge == "ave":
        return (f + r) * 0.5
    return f * r


class Gru(Layer):
    def __init__(self, features, units, recurrent_activation, reset_after, seed):
        super().__init__()
        self.activation = recurrent_activation
        self.reset_after = reset_after
        self.weight_names = add_gru_cell(self, "", features, units, reset_after, seed)

    def forward(self, x, mask):
        y = gru_sequence(x, self.kernel, self.recurrent_kernel, self.bias, mask, self.activation, self.reset_after)
        return y, mask, None


class BiGru(Layer):
    def __init__(self, features, units, merge, recurrent_activation, reset_after, seed):
        super().__init__()
        self.merge = merge
        self.activation = recurrent_activation
        self.reset_after = reset_after
        names = add_gru_cell(self, "forward_", features, units, reset_after, seed)
        names += add_gru_cell(self, "backward_", features, units, reset_after, seed + 100)
        self.weight_names = names

    def forward(self, x, mask):
        f = gru_sequence(
            x,
            self.forward_kernel,
            self.forward_recurrent_kernel,
            self.forward_bias,
            mask,
            self.activation,
            self.reset_after,
        )
        r = gru_sequence(
            x,
            self.backward_kernel,
            self.backward_recurrent_kernel,
            self.backward_bias,
            mask,
            self.activation,
            self.reset_after,
            reverse=True,
        )
        return merge_directions(f, r, self.merge), mask, None


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


# The limits attnc's loader puts on a model directory (src/runtime/modeldir-format.ts MODELDIR_LIMITS).
JSON_BYTES = 64 * 2**20
BIN_BYTES = 2**31 - 1
WEIGHT_ELEMENTS = 2**30
PLAIN_FILE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def plain_name(name):
    return isinstance(name, str) and PLAIN_FILE.match(name) is not None


def damaged(directory, detail):
    """A damaged or tampered model directory, named as attnc names it (exit code 2)."""
    return AttncError("damaged model directory %s: %s" % (directory, detail))


def dir_file(directory, name, where, limit):
    """The path of a file a model directory names, after attnc's checks (src/runtime/modeldir.ts dirFile): a
    plain name in the directory, a regular file (a symbolic link must stay inside the directory), at most `limit`
    bytes. Returns (path, size)."""
    if not plain_name(name):
        raise damaged(directory, "%s %s is not a plain file name in the directory" % (where, json.dumps(name)))
    path = os.path.join(directory, name)
    try:
        st = os.lstat(path)
    except OSError:
        raise damaged(directory, "%s names %s, which is missing" % (where, name))
    if stat.S_ISLNK(st.st_mode):
        try:
            real = os.path.realpath(path, strict=True)
            root = os.path.realpath(directory, strict=True)
        except (OSError, RuntimeError):
            raise damaged(directory, "%s is a symbolic link to nothing" % name)
        if not real.startswith(root + os.sep):
            raise damaged(directory, "%s is a symbolic link leading outside the directory" % name)
        st = os.stat(real)
    if not stat.S_ISREG(st.st_mode):
        raise damaged(directory, "%s is not a regular file" % name)
    if st.st_size > limit:
        raise damaged(directory, "%s is %d bytes, more than the %d a model directory may hold there" % (
            name,
            st.st_size,
            limit,
        ))
    return path, st.st_size


def read_dir_bytes(directory, name, where, limit):
    path, _ = dir_file(directory, name, where, limit)
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise damaged(directory, "%s cannot be read (%s)" % (name, e.strerror or e))
    if len(data) > limit:
        raise damaged(directory, "%s grew past the %d bytes a model directory may hold there" % (name, limit))
    return data


def read_dir_json(directory, name, where):
    """A JSON file a model directory names, with attnc's checks (plain name, inside, size)."""
    data = read_dir_bytes(directory, name, where, JSON_BYTES)
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise damaged(directory, "%s is not valid JSON (%s)" % (name, e))


def read_manifest(directory):
    manifest = read_dir_json(directory, "manifest.json", "the directory")
    if not isinstance(manifest, dict):
        raise damaged(directory, "manifest.json: must be a JSON object")
    return manifest


def load_weights(model, directory):
    """Loads the weights of an attnc model directory (its current checkpoint) into `model`: every file it reads
    passes attnc's checks (dir_file), every weight the model has must be there with its shape, and the weights
    file must hold exactly the bytes its manifest needs (checked before it is read)."""
    shown = shown_path(directory)
    manifest = read_manifest(shown)
    model_file = manifest.get("model")
    if not plain_name(model_file):
        raise damaged(shown, "manifest.json: model %s is not a plain file name in the directory" % json.dumps(model_file))
    topo = read_dir_json(shown, model_file, "manifest.json's model")
    groups = topo.get("weightsManifest") if isinstance(topo, dict) else None
    if not isinstance(groups, list) or len(groups) == 0:
        raise damaged(shown, "%s: has no weightsManifest" % model_file)
    specs, files = [], []
    for g in groups:
        paths = g.get("paths") if isinstance(g, dict) else None
        if not isinstance(paths, list) or not isinstance(g.get("weights"), list):
            raise damaged(shown, "%s: a weights group needs paths and weights" % model_file)
        for p in paths:
            files.append((p, dir_file(shown, p, "%s's weightsManifest path" % model_file, BIN_BYTES)))
        specs += g["weights"]
    params = dict(model.ir_weights())
    needed = 0
    for s in specs:
        name, shape = (s.get("name"), s.get("shape")) if isinstance(s, dict) else (None, None)
        if (
            s.get("dtype", "float32") != "float32"
            or not isinstance(shape, list)
            or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
        ):
            raise damaged(shown, "%s: weight %s is not a float32 tensor" % (model_file, json.dumps(name)))
        n = int(np.prod(shape)) if len(shape) > 0 else 1
        if n > WEIGHT_ELEMENTS:
            raise damaged(shown, "%s: weight %s has more than %d elements" % (model_file, json.dumps(name), WEIGHT_ELEMENTS))
        if name not in params:
            raise damaged(shown, "%s: weight %s is not one of this model's" % (model_file, json.dumps(name)))
        if list(params[name].shape) != shape:
            raise damaged(shown, "%s: weight %s has shape %s, the model needs %s" % (
                model_file,
                name,
                shape,
                list(params[name].shape),
            ))
        needed += 4 * n
    size = sum(f[1][1] for f in files)
    if size != needed:
        raise damaged(shown, "%s: the weights manifest needs %d bytes, but %s holds %d" % (
            model_file,
            needed,
            ", ".join(f[0] for f in files),
            size,
        ))
    data = b"".join(read_dir_bytes(shown, p, "%s's weightsManifest path" % model_file, BIN_BYTES) for p, _ in files)
    if len(data) != needed:
        raise damaged(shown, "%s: the weights files changed while they were read" % model_file)
    offset = 0
    seen = set()
    for s in specs:
        name, shape = s["name"], s["shape"]
        p = params[name]
        n = int(np.prod(shape)) if len(shape) > 0 else 1
        values = np.frombuffer(data, dtype="<f4", count=n, offset=offset).reshape(shape)
        with torch.no_grad():
            p.copy_(torch.from_numpy(values.copy()).to(p.dtype))
        offset += 4 * n
        seen.add(name)
    missing = [n for n in params if n not in seen]
    if missing:
        raise damaged(shown, "%s: lacks weight %s" % (model_file, missing[0]))


# ---- data (docs/data.md; the same rows, splits, vocabulary, windows and scaling as attnc's src/runtime/data.ts)

MAX_RECORD_CHARS = 1 << 20


# The largest magnitude of a scaled value (src/runtime/data.ts SCALED_LIMIT): beyond it a squared error
# summed over a batch would overflow a float32 loss.
SCALED_LIMIT = 1e15


def scaled_too_far(what, v):
    return "scaled by the training rows' statistics, this %s is %s, beyond \u00b11e15 (its squared error would overflow the float32 loss)" % (what, "%.2e" % v)


def data_error(display, line, where, detail):
    """A data problem, named as attnc names it: `file:line: column "x": detail` (exit code 1)."""
    at = display + (":%d" % line if line is not None else "")
    return AttncError("%s: %s%s" % (at, (where + ": ") if where else "", detail), 1)


# The largest data file attnc reads (src/runtime/csv.ts MAX_DATA_BYTES).
MAX_DATA_BYTES = 4 * 1024**3


def entry_kind(mode):
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def not_regular(mode):
    if stat.S_ISDIR(mode):
        return "is a directory, not a data file"
    return "is %s; a data file is read more than once, so it must be a regular file" % entry_kind(mode)


def data_file_problem(st):
    """Why a file with this stat cannot be a data file, or None (src/runtime/csv.ts dataFileProblem)."""
    if not stat.S_ISREG(st.st_mode):
        return not_regular(st.st_mode)
    if st.st_size > MAX_DATA_BYTES:
        return "is %d bytes, more than the 4 GiB a data file may have" % st.st_size
    return None


def check_data_file(path, display):
    """Before anything opens it: a data file must be a regular file (a symbolic link is followed) of at most
    4 GiB; a pipe, device or directory is refused (exit code 1, as attnc's programs). A missing file is left to
    the reader's message."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    except OSError as e:
        raise data_error(display, None, None, "cannot read: %s" % (e.strerror or e))
    problem = data_file_problem(st)
    if problem is not None:
        raise data_error(display, None, None, problem)


def read_text_file(path, display):
    check_data_file(path, display)
    try:
        # O_NONBLOCK: should the file have become a pipe since the check, opening it does not wait for a writer.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise AttncError("cannot read %s: %s" % (display, e.strerror or e))
    with os.fdopen(fd, "rb") as f:
        problem = data_file_problem(os.fstat(fd))
        if problem is not None:
            raise data_error(display, None, None, problem)
        try:
            data = f.read(MAX_DATA_BYTES + 1)
        except OSError as e:
            raise AttncError("cannot read %s: %s" % (display, e.strerror or e))
    if len(data) > MAX_DATA_BYTES:
        raise data_error(display, None, None, "the file grew past the 4 GiB a data file may have")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise data_error(display, line, None, "invalid UTF-8 (byte 0x%02x)" % data[e.start])
    return text[1:] if text.startswith("\ufeff") else text


def csv_records(text, display, delimiter=","):
    """CSV records as attnc reads them: quotes double inside quoted fields, LF, CRLF or CR end a record."""
    field, fields = [], []
    quoted = after_quote = pending_cr = any_char = False
    line = start = 1
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        i += 1
        if pending_cr:
            pending_cr = False
            if ch == "\n":
                continue
        if quoted:
            if ch == '"':
                if i < n and text[i] == '"':
                    field.append('"')
                    i += 1
                else:
                    quoted = False
                    after_quote = True
            else:
                if ch == "\n":
                    line += 1
                field.append(ch)
            continue
        if ch == delimiter:
            fields.append("".join(field))
            field = []
            after_quote = False
            any_char = True
        elif ch == "\n" or ch == "\r":
            fields.append("".join(field))
            if not (len(fields) == 1 and fields[0] == "" and not after_quote):
                yield fields, start
            fields, field = [], []
            after_quote = any_char = False
            line += 1
            start = line
            pending_cr = ch == "\r"
        elif ch == '"' and not field and not after_quote:
            quoted = any_char = True
        else:
            if after_quote:
                raise data_error(
                    display,
                    line,
                    "field %d" % (len(fields) + 1),
                    "unexpected character after a closing quote",
                )
            field.append(ch)
            any_char = True
    if quoted:
        raise data_error(display, start, "field %d" % (len(fields) + 1), "a quoted field is never closed")
    if any_char or field or fields:
        fields.append("".join(field))
        yield fields, start


def read_rows(source, path, display):
    """The rows of the data file: (values by column, line)."""
    text = read_text_file(path, display)
    rows = []
    if source["kind"] == "csv":
        header = None
        for fields, line in csv_records(text, display, source.get("delimiter", ",")):
            if header is None:
                header = [f.strip() for f in fields]
                if len(set(header)) != len(header):
                    dup = [h for h in header if header.count(h) > 1][0]
                    raise data_error(display, line, "column %s" % json.dumps(dup), "the header names this column twice")
                continue
            if len(fields) != len(header):
                raise data_error(
                    display, line, None, "this row has %d field%s, the header has %d" % (
                        len(fields),
                        "" if len(fields) == 1 else "s",
                        len(header),
                    )
                )
            rows.append((dict(zip(header, fields)), line))
        if header is None:
            raise data_error(display, None, None, "the file is empty: a header line is needed")
        return rows
    for k, raw in enumerate(text.split("\n")):
        raw = raw[:-1] if raw.endswith("\r") else raw
        if raw.strip() == "":
            continue
        try:
            v = json.loads(raw)
        except ValueError as e:
            raise data_error(display, k + 1, None, "not valid JSON: %s" % e)
        if not isinstance(v, dict):
            raise data_error(display, k + 1, None, "each line must be a JSON object")
        rows.append((v, k + 1))
    return rows


def imul(a, b):
    """JavaScript's Math.imul: the low 32 bits of a * b, as a signed 32-bit integer."""
    r = ((a & 0xFFFFFFFF) * (b & 0xFFFFFFFF)) & 0xFFFFFFFF
    return r - (1 << 32) if r >= 1 << 31 else r


def unit_hash(seed, index):
    h = imul(index ^ 0x9E3779B9, 0x85EBCA6B) ^ imul(seed + 0x7F4A7C15, 0xC2B2AE35)
    h &= 0xFFFFFFFF
    h ^= h >> 16
    h = imul(h, 0x85EBCA6B) & 0xFFFFFFFF
    h ^= h >> 13
    h = imul(h, 0xC2B2AE35) & 0xFFFFFFFF
    h ^= h >> 16
    return h / 4294967296


def split_with_defaults(s, series):
    s = s or {}
    return {
        "order": s.get("order", "chronological" if series else "shuffled"),
        "train": s.get("train", 0.8),
        "validation": s.get("validation", 0.1),
        "test": s.get("test", 0.1),
        "seed": s.get("seed", 0),
    }


def split_of(s, index, rows):
    u = index / rows if s["order"] == "chronological" else unit_hash(s["seed"], index)
    return "train" if u < s["train"] else "validation" if u < s["train"] + s["validation"] else "test"


def prng(seed):
    """mulberry32, as attnc's prng: the same stream on every machine."""
    state = [seed & 0xFFFFFFFF]

    def next_value():
        state[0] = (state[0] + 0x6D2B79F5) & 0xFFFFFFFF
        t = state[0]
        t = imul(t ^ (t >> 15), t | 1) & 0xFFFFFFFF
        t ^= (t + imul(t ^ (t >> 7), t | 61)) & 0xFFFFFFFF
        return ((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296

    return next_value


def js_order(s):
    """JavaScript's string order (UTF-16 code units)."""
    return s.encode("utf-16-be")


def is_word_char(ch, marks_only=False):
    cat = unicodedata.category(ch)
    return cat[0] in "LM" or (not marks_only and cat[0] == "N")


def tokenize(tokenizer, lowercase, text):
    """Words: letters, marks and digits, then any apostrophe + letters parts (NFC first); or characters."""
    t = unicodedata.normalize("NFC", text)
    if lowercase:
        t = t.lower()
    if tokenizer == "chars":
        return list(t)
    out, i, n = [], 0, len(t)
    while i < n:
        if not is_word_char(t[i]):
            i += 1
            continue
        j = i
        while j < n and is_word_char(t[j]):
            j += 1
        while j + 1 < n and t[j] in "'\u2019" and is_word_char(t[j + 1], True):
            j += 2
            while j < n and is_word_char(t[j], True):
                j += 1
        out.append(t[i:j])
        i = j
    return out


def cell_text(row, column, display, line):
    v = row.get(column)
    if v is None:
        raise data_error(display, line, "column %s" % json.dumps(column), "missing" if column not in row else "is null")
    if not isinstance(v, str):
        raise data_error(display, line, "column %s" % json.dumps(column), "must be a string, not %s" % type(v).__name__)
    return v


DECIMAL = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")


def cell_number(row, column, display, line):
    v = row.get(column)
    where = "column %s" % json.dumps(column)
    if v is None and column not in row:
        raise data_error(display, line, where, "missing")
    if isinstance(v, str):
        if not DECIMAL.match(v.strip()):
            raise data_error(display, line, where, "%s is not a finite number" % json.dumps(v))
        v = float(v.strip())
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise data_error(display, line, where, "%s is not a number" % json.dumps(v))
    if not math.isfinite(float(np.float32(v))):
        raise data_error(display, line, where, "%s is beyond the float32 range (about \u00b13.4e38)" % v)
    return float(v)


ISO_LOCAL = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?$")
ISO_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
ISO_ZONED = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|z|[+-]\d{2}:?\d{2})$")


def calendar_time(raw):
    """A time cell as seconds since 1970 UTC, or None: ISO dates and times, read as UTC unless a zone is given."""
    s = raw.strip()
    if s == "" or DECIMAL.match(s):
        return None
    m = ISO_LOCAL.match(s) or ISO_ZONED.match(s)
    zone = None
    if m:
        y, mo, d, hh, mi = (int(m.group(k)) for k in range(1, 6))
        sec = int(m.group(6) or 0) + float(m.group(7) or 0)
        zone = m.group(8) if m.re is ISO_ZONED else None
    else:
        m = ISO_DATE.match(s)
        if not m:
            return None
        y, mo, d, hh, mi, sec = int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1), 0, 0, 0.0
    if not (1 <= mo <= 12) or not (1 <= d <= calendar.monthrange(y, mo)[1]) or hh > 23 or mi > 59 or sec >= 60:
        return None
    t = calendar.timegm((y, mo, d, hh, mi, 0, 0, 0, 0)) + sec
    if zone and zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        t -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return t


CALENDAR_PERIODS = {"hour": 24, "weekday": 7, "yearday": 365.25, "month": 12}


def calendar_phase(cycle, t):
    whole = math.floor(t)
    tm = time.gmtime(whole)
    if cycle == "hour":
        return (tm.tm_hour + tm.tm_min / 60) / 24
    if cycle == "weekday":
        return ((tm.tm_wday + 1) % 7) / 7
    if cycle == "yearday":
        return (t - calendar.timegm((tm.tm_year, 1, 1, 0, 0, 0, 0, 0, 0))) / 86400 / 365.25
    return (tm.tm_mon - 1) / 12


def derived_names(cal, derive):
    out = []
    for c in cal or []:
        out += [c + "_sin", c + "_cos"]
    for d in derive or []:
        out.append(d["column"] + "_diff" if d["kind"] == "diff" else "%s_lag%d" % (d["column"], d.get("steps", 1)))
    return out


def derive_history(d):
    return 1 if d["kind"] == "diff" else d.get("steps", 1)


def history_rows(derive):
    return max([derive_history(d) for d in derive or []] or [0])


def is_window_row(window, horizon, stride, derive, r):
    start = r - horizon - window + 1
    return start >= history_rows(derive) and start % stride == 0


def series_values(rows, sources, time_col, cal, derive, display):
    """Each row's model features in the data's units: the source's, the calendar's, then the derived ones (NaN
    while a lag or difference lacks its history)."""
    out = []
    past = []
    keep = history_rows(derive) + 1
    for row, line in rows:
        values = [cell_number(row, c, display, line) for c in sources]
        if cal:
            raw = row.get(time_col)
            t = calendar_time(raw) if isinstance(raw, str) else None
            if t is None:
                raise data_error(
                    display,
                    line,
                    "column %s" % json.dumps(time_col),
                    "%s is not a date this program reads (ISO dates such as 2024-03-01 or 2024-03-01T13:00)"
                    % json.dumps(raw),
                )
            for c in cal:
                a = 2 * math.pi * calendar_phase(c, t)
                values += [math.sin(a), math.cos(a)]
        if derive:
            now = [cell_number(row, d["column"], display, line) for d in derive]
            past.append(now)
            if len(past) > keep:
                past.pop(0)
            last = len(past) - 1
            for i, d in enumerate(derive):
                back = derive_history(d)
                then = past[last - back][i] if last - back >= 0 else float("nan")
                values.append(now[i] - then if d["kind"] == "diff" else then)
        out.append(values)
    return out


def time_key(raw):
    s = raw.strip()
    if DECIMAL.match(s):
        return float(s)
    t = calendar_time(s)
    return t if t is not None else s


def fit_text(config, rows, display):
    tok = config["tokenizer"]
    src = config["source"]
    text_col, label_col = src["text"], src["label"]
    split = split_with_defaults(config.get("split"), False)
    n = len(rows)
    counts, labels = {}, set()
    for index, (row, line) in enumerate(rows):
        label = cell_text(row, label_col, display, line).strip()
        if label == "":
            raise data_error(display, line, "column %s" % json.dumps(label_col), "the label is empty")
        text = cell_text(row, text_col, display, line)
        if split_of(split, index, n) == "train":
            labels.add(label)
            for t in tokenize(tok["kind"], tok["lowercase"], text):
                counts[t] = counts.get(t, 0) + 1
    for index, (row, line) in enumerate(rows):
        label = cell_text(row, label_col, display, line).strip()
        if split_of(split, index, n) != "train" and label not in labels:
            raise data_error(
                display,
                line,
                "column %s" % json.dumps(label_col),
                "label %s never appears in the training split" % json.dumps(label),
            )
    if len(labels) < 2:
        raise data_error(
            display,
            None,
            "column %s" % json.dumps(label_col),
            "the training split has %d label(s); classification needs at least 2" % len(labels),
        )
    words = sorted(
        ((w, c) for w, c in counts.items() if c >= tok["min_count"]),
        key=lambda wc: (-wc[1], js_order(wc[0])),
    )
    vocab = ["<pad>", "<oov>"] + [w for w, _ in words[: max(0, tok["vocab"] - 2)]]
    split_counts = {"train": 0, "validation": 0, "test": 0}
    for i in range(n):
        split_counts[split_of(split, i, n)] += 1
    return {
        "kind": "text",
        "tokenizer": tok["kind"],
        "lowercase": tok["lowercase"],
        "maxLen": tok["max_len"],
        "vocab": vocab,
        "labels": sorted(labels, key=js_order),
        "textColumn": text_col,
        "labelColumn": label_col,
        "split": split,
        "rows": n,
        "counts": split_counts,
    }


def fit_series(config, rows, display):
    src = config["source"]
    sources, target, time_col = src["features"], src["target"], src.get("time")
    targets = target_columns(target)
    tk = len(targets)
    cal, derive = config.get("calendar") or [], config.get("derive") or []
    features = sources + derived_names(cal, derive)
    win = config["window"]
    split = split_with_defaults(config.get("split"), True)
    scaling = config.get("scale", "standard")
    n = len(rows)
    needed = history_rows(derive) + win["size"] + win["horizon"]
    if n < needed:
        raise data_error(
            display,
            None,
            None,
            "the series has %d rows, shorter than the window plus the horizon (%d)" % (n, needed),
        )
    f = len(features)
    values = series_values(rows, sources, time_col, cal, derive, display)
    prev = None
    for (row, line), v in zip(rows, values):
        for t in targets:
            v.append(cell_number(row, t, display, line))
        if time_col:
            raw = row.get(time_col)
            if isinstance(raw, (int, float)) and not isinstance(raw, bool):
                raw = json.dumps(raw)
            if not isinstance(raw, str):
                raise data_error(display, line, "column %s" % json.dumps(time_col), "must be a string or a number")
            t = time_key(raw)
            if prev is not None:
                if t == prev[0]:
                    raise data_error(
                        display,
                        line,
                        "column %s" % json.dumps(time_col),
                        "duplicate timestamp %s" % json.dumps(raw),
                    )
                if type(t) is type(prev[0]) and t < prev[0]:
                    raise data_error(
                        display,
                        line,
                        "column %s" % json.dumps(time_col),
                        "%s comes before %s: rows must be in time order" % (json.dumps(raw), json.dumps(prev[1])),
                    )
            prev = (t, raw)
    predict = win.get("predict") or (
        "residual"
        if win["horizon"] >= 1 and win["size"] * len(features) <= RIDGE_MAX_INPUTS
        else "delta" if all(t in sources for t in targets) and win["horizon"] >= 1 else "value"
    )
    c = f + tk
    s = [0.0] * c
    sq = [0.0] * c
    lo = [math.inf] * c
    hi = [-math.inf] * c
    cnt = [0] * c
    h = win["horizon"]
    steps = output_steps(h, win.get("steps"))
    o_n = len(steps) * tk
    d_sum, d_sq = [0.0] * o_n, [0.0] * o_n
    d_min, d_max, d_n = [math.inf] * o_n, [-math.inf] * o_n, [0] * o_n
    for index, v in enumerate(values):
        if split_of(split, index, n) != "train":
            continue
        for si, step in enumerate(steps):
            if index < step:
                continue
            for k in range(tk):
                o = si * tk + k
                d = v[f + k] - values[index - step][f + k]
                d_sum[o] += d
                d_sq[o] += d * d
                d_min[o], d_max[o] = min(d_min[o], d), max(d_max[o], d)
                d_n[o] += 1
        for k, x in enumerate(v):
            if math.isnan(x):
                continue
            s[k] += x
            sq[k] += x * x
            lo[k], hi[k] = min(lo[k], x), max(hi[k], x)
            cnt[k] += 1
    if cnt[f] == 0:
        raise data_error(display, None, None, "the training split has no rows")

    def fitted(total, total_sq, least, most, count):
        if scaling == "standard" and count > 0:
            mean = total / count
            sd = math.sqrt(max(0.0, total_sq / count - mean * mean))
            # A column constant over the training rows scales by 1: its sd would be rounding noise (0.1 gives 7e-9).
            return mean, (sd if sd > 1e-12 and most > least else 1)
        if scaling == "minmax" and count > 0:
            return least, (most - least if most - least > 1e-12 else 1)
        return 0, 1

    offset, scale = [], []
    for k in range(c):
        o, sc = fitted(s[k], sq[k], lo[k], hi[k], cnt[k])
        offset.append(o)
        scale.append(sc)
    out_offset, out_scale = [], []
    for o in range(o_n):
        k = o % tk
        if predict == "delta" or (predict == "residual" and residual_of_change(targets, sources, h)):
            off, sc = fitted(d_sum[o], d_sq[o], d_min[o], d_max[o], d_n[o]) if d_n[o] > 0 else (0, 1)
        else:
            off, sc = offset[f + k], scale[f + k]
        out_offset.append(off)
        out_scale.append(sc)
    counts = {"train": 0, "validation": 0, "test": 0}
    for r in range(win["size"] + h - 1, n):
        if is_window_row(win["size"], h, win["stride"], derive, r):
            counts[split_of(split, r, n)] += 1
    prep = {
        "kind": "series",
        "counts": counts,
        "features": features,
        "target": targets[0] if tk == 1 else targets,
        "time": time_col,
        "window": win["size"],
        "horizon": h,
        "stride": win["stride"],
        "scaling": scaling,
        "offset": offset[:f],
        "scale": scale[:f],
        "predict": predict,
        "targetOffset": out_offset[0] if o_n == 1 else out_offset,
        "targetScale": out_scale[0] if o_n == 1 else out_scale,
        "split": split,
        "rows": n,
    }
    if win.get("steps") == "all":
        prep["steps"] = "all"
    if cal:
        prep["calendar"] = cal
    if derive:
        prep["derive"] = derive
    return prep


def target_columns(target):
    """The target columns: one, or a list."""
    return [target] if isinstance(target, str) else list(target)


def output_steps(horizon, steps):
    """The steps after the window's last one that the outputs forecast: 1..horizon with steps all, else the horizon."""
    return list(range(1, horizon + 1)) if steps == "all" else [horizon]


def output_scaling(prep, o):
    at = lambda v: v if isinstance(v, (int, float)) else v[o]
    return at(prep["targetOffset"]), at(prep["targetScale"])


RIDGE_LAMBDAS = [1e-4, 1e-3, 1e-2, 1e-1, 1, 10, 100, 1000]
RIDGE_DEFAULT_LAMBDA = 1e-2
RIDGE_MAX_INPUTS = 512


def fit_ridge(train, validation):
    """attnc's ridge regression (ridge.ts): y on [x, 1] over the training pairs, (X^T X / n + lambda I) W =
    X^T Y / n with the bias unpenalised, lambda the one of lowest validation RMSE over all outputs (a tie goes to
    the larger); without validation pairs RIDGE_DEFAULT_LAMBDA. Returns (weights [O, D], lambda) or None."""
    if not train:
        return None
    x = np.array([np.append(np.asarray(e[0], dtype=np.float64).reshape(-1), 1.0) for e in train])
    y = np.array([e[1] for e in train], dtype=np.float64)
    n, d = x.shape
    a = x.T @ x / n
    b = x.T @ y / n

    def solve(lam):
        diag = np.full(d, lam)
        diag[-1] = 0.0
        try:
            l = np.linalg.cholesky(a + np.diag(diag))
        except np.linalg.LinAlgError:
            return None
        w = np.linalg.solve(l.T, np.linalg.solve(l, b)).T
        return w if np.all(np.isfinite(w)) else None

    # As ridge.ts: when X^T X is singular beside every lambda, the lambdas relative to its mean diagonal.
    trace = float(np.trace(a[:-1, :-1])) / max(1, d - 1)

    def fits_of(scale):
        return [(lam * scale, w) for lam in RIDGE_LAMBDAS for w in [solve(lam * scale)] if w is not None]

    fits = fits_of(1) if validation else []
    relative = (solve(RIDGE_DEFAULT_LAMBDA) is None if not validation else not fits) and trace > 1
    scale = trace if relative else 1
    if not validation:
        w = solve(RIDGE_DEFAULT_LAMBDA * scale)
        return None if w is None else (w, RIDGE_DEFAULT_LAMBDA * scale)
    if relative:
        fits = fits_of(scale)
    if not fits:
        return None
    xv = np.array([np.append(np.asarray(e[0], dtype=np.float64).reshape(-1), 1.0) for e in validation])
    yv = np.array([e[1] for e in validation], dtype=np.float64)
    best, best_rmse = None, math.inf
    for lam, w in fits:
        rmse = math.sqrt(float(np.mean((xv @ w.T - yv) ** 2)))
        if rmse <= best_rmse:
            best, best_rmse = (w, lam), rmse
    return best


def residual_of_change(targets, sources, horizon):
    """Whether a predict residual model's linear forecast is of the change (data.ts, residualOfChange)."""
    return all(t in sources for t in targets) and horizon >= 1


def linear_forecast(linear, x):
    """Every output's linear forecast (prep.ts, linearForecast) from the scaled window x [T, F]."""
    w = np.array(linear["weights"], dtype=np.float64)
    v = np.append(np.asarray(x, dtype=np.float64).reshape(-1), 1.0)
    return (w.reshape(-1, v.size) @ v).tolist()


def fit_residual(config, prep, rows, display):
    """The linear forecast of a predict residual model and its outputs' scaling (data.ts, fitResidual)."""
    inputs = prep["window"] * len(prep["features"])
    if inputs > RIDGE_MAX_INPUTS:
        raise data_error(
            display, None, None, "predict residual needs a linear forecast of the window, which has %d inputs, more than %d" % (inputs, RIDGE_MAX_INPUTS)
        )
    targets = target_columns(prep["target"])
    tk = len(targets)
    features = prep["features"]
    derived = derived_names(prep.get("calendar") or [], prep.get("derive") or [])
    change = residual_of_change(targets, features[: len(features) - len(derived)], prep["horizon"])
    first = dict(prep, predict="delta" if change else "value")
    items = encode(config, first, rows, display)
    train = [(e[0], e[1]) for e in items if e[4] == "train"]
    validation = [(e[0], e[1]) for e in items if e[4] == "validation"] if prep["counts"]["validation"] > 0 else []
    if not train:
        raise data_error(
            display,
            None,
            None,
            "the training split has no windows (a window and its horizon need %d rows), so predict residual has nothing to fit its linear forecast on"
            % (prep["window"] + prep["horizon"]),
        )
    fitted = fit_ridge(train, validation)
    if fitted is None:
        raise data_error(
            display,
            None,
            None,
            "predict residual: the linear forecast could not be fitted: its ridge system could not be solved (inputs far from unit scale: try scale: standard, or predict delta)",
        )
    w, lam = fitted
    o_n = w.shape[0]
    scaling = [output_scaling(first, o) for o in range(o_n)]
    weights = []
    for o in range(o_n):
        off, sc = scaling[o]
        row = w[o] * sc
        row[-1] += off
        if change:
            fi = features.index(targets[o % tk])
            row[(prep["window"] - 1) * len(features) + fi] += prep["scale"][fi]
            row[-1] += prep["offset"][fi]
        weights += row.tolist()
    linear = {"lambda": lam, "weights": weights}
    res = [
        [e[1][o] * scaling[o][1] + scaling[o][0] + e[2][o] - f for o, f in enumerate(linear_forecast(linear, e[0]))]
        for e in items
        if e[4] == "train"
    ]
    r = np.array(res, dtype=np.float64).reshape(len(res), o_n)
    offsets, scales = [], []
    for o in range(o_n):
        col = r[:, o]
        if prep["scaling"] == "standard" and len(col):
            mean = float(np.sum(col)) / len(col)
            sd = math.sqrt(max(0.0, float(np.sum(col * col)) / len(col) - mean * mean))
            off, sc = mean, (sd if sd > 1e-12 and float(np.max(col)) > float(np.min(col)) else 1)
        elif prep["scaling"] == "minmax" and len(col):
            lo, hi = float(np.min(col)), float(np.max(col))
            off, sc = lo, (hi - lo if hi - lo > 1e-12 else 1)
        else:
            off, sc = 0, 1
        offsets.append(off)
        scales.append(sc)
    single = o_n == 1
    return dict(prep, predict="residual", linear=linear, targetOffset=offsets[0] if single else offsets, targetScale=scales[0] if single else scales)


def fit(config, rows, display):
    """The preprocessing the data block describes, fitted on the training split only."""
    if config.get("tokenizer"):
        return fit_text(config, rows, display)
    prep = fit_series(config, rows, display)
    return fit_residual(config, prep, rows, display) if prep["predict"] == "residual" else prep


def encode(config, prep, rows, display):
    """Every example of the file, in file order: (x, y, base, line, split), x as a numpy array (int64 ids or
    float32 [T, F]), y the class id or the list of scaled outputs (step-major), base what each output is added to
    (each target's value at the window's last step for predict delta, the linear forecast for predict residual),
    as attnc encodes them."""
    out = []
    n = len(rows)
    if prep["kind"] == "text":
        index = {w: i for i, w in enumerate(prep["vocab"])}
        label_id = {l: i for i, l in enumerate(prep["labels"])}
        for i, (row, line) in enumerate(rows):
            split = split_of(prep["split"], i, n)
            label = cell_text(row, prep["labelColumn"], display, line).strip()
            if label not in label_id:
                raise data_error(
                    display,
                    line,
                    "column %s" % json.dumps(prep["labelColumn"]),
                    "label %s never appears in the training split" % json.dumps(label),
                )
            ids = np.zeros(prep["maxLen"], dtype=np.int64)
            toks = tokenize(prep["tokenizer"], prep["lowercase"], cell_text(row, prep["textColumn"], display, line))
            for k, t in enumerate(toks[: prep["maxLen"]]):
                ids[k] = index.get(t, 1)
            out.append((ids, label_id[label], [], line, split))
        return out
    f = len(prep["features"])
    t_len, h = prep["window"], prep["horizon"]
    cal, derive = prep.get("calendar") or [], prep.get("derive") or []
    sources = prep["features"][: f - len(derived_names(cal, derive))]
    values = series_values(rows, sources, prep["time"], cal, derive, display)
    offset = np.array(prep["offset"], dtype=np.float64)
    scale = np.array(prep["scale"], dtype=np.float64)
    scaled64 = (np.array(values, dtype=np.float64).reshape(n, f) - offset) / scale
    far = np.argwhere(np.abs(np.nan_to_num(scaled64, nan=0.0)) > SCALED_LIMIT)
    if len(far) > 0:
        r, k = int(far[0][0]), int(far[0][1])
        raise data_error(display, rows[r][1], "column %s" % json.dumps(prep["features"][k]), scaled_too_far("value", scaled64[r][k]))
    scaled = scaled64.astype(np.float32)
    targets = target_columns(prep["target"])
    tk = len(targets)
    steps = output_steps(h, prep.get("steps"))
    target = np.array([[cell_number(row, t, display, line) for t in targets] for row, line in rows], dtype=np.float32).reshape(n, tk)
    for r in range(t_len + h - 1, n):
        if not is_window_row(t_len, h, prep["stride"], derive, r):
            continue
        end = r - h
        x = scaled[end - t_len + 1 : end + 1]
        if prep["predict"] == "delta":
            base = [float(target[end][k]) for _ in steps for k in range(tk)]
        elif prep["predict"] == "residual":
            base = linear_forecast(prep["linear"], x)
        else:
            base = [0.0] * (len(steps) * tk)
        y = []
        for si, step in enumerate(steps):
            for k in range(tk):
                off, sc = output_scaling(prep, si * tk + k)
                value = (float(target[end + step][k]) - base[si * tk + k] - off) / sc
                if not abs(value) <= SCALED_LIMIT:
                    raise data_error(display, rows[end + step][1], "column %s" % json.dumps(targets[k]), scaled_too_far("target", value))
                y.append(value)
        out.append((x, y, base, rows[r][1], split_of(prep["split"], r, n)))
    return out


def shuffled(items, seed, size):
    """attnc's seeded shuffle through a buffer of `size` (a full shuffle when the split fits)."""
    rand = prng(seed)
    buf, out = [], []
    for e in items:
        if len(buf) < size:
            buf.append(e)
            continue
        j = math.floor(rand() * size)
        out.append(buf[j])
        buf[j] = e
    for i in range(len(buf) - 1, 0, -1):
        j = math.floor(rand() * (i + 1))
        buf[i], buf[j] = buf[j], buf[i]
    return out + buf


def epoch_seed(seed, epoch):
    return (imul(seed + 1, 0x9E3779B1) ^ imul(epoch, 0x85EBCA6B)) & 0xFFFFFFFF


SHUFFLE_BUFFER = 8192


# ---- training (docs/language.md, "Training")


def loss_of(kind, pred, y, reduce_sum=False):
    """The loss of each example (a forecaster's: the mean over its outputs) summed (reduce_sum) or averaged, as
    attnc's lossOf."""
    if kind == "cross_entropy":
        p = torch.clamp(pred, 1e-7, 1 - 1e-7)
        if p.shape[-1] == 1:
            t = y.to(p.dtype).reshape(-1, 1)
            per = -(t * torch.log(p) + (1 - t) * torch.log(1 - p)).reshape(-1)
        else:
            per = -torch.log(p.gather(1, y.long().reshape(-1, 1))).reshape(-1)
    else:
        e = pred.reshape(-1) - y.to(pred.dtype).reshape(-1)
        if kind == "mse":
            per = e * e
        elif kind == "mae":
            per = e.abs()
        else:
            a = e.abs()
            q = torch.clamp(a, max=1.0)
            per = 0.5 * q * q + (a - q)
        # Each example's mean over its outputs (steps x targets): the mean over all of them, as attnc's.
        per = per.reshape(pred.shape[0], -1).mean(dim=1)
    return per.sum() if reduce_sum else per.mean()


def make_optimizer(cfg, params):
    cfg = cfg or {"kind": "adam", "lr": 0.001}
    if cfg["kind"] == "sgd":
        return torch.optim.SGD(params, lr=cfg["lr"], momentum=cfg.get("momentum", 0))
    if cfg["kind"] == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg["lr"], alpha=cfg.get("rho", 0.9), eps=1e-7)
    return torch.optim.Adam(
        params,
        lr=cfg["lr"],
        betas=(cfg.get("beta1", 0.9), cfg.get("beta2", 0.999)),
        eps=cfg.get("epsilon", 1e-7),
    )


def clip_each(params, norm):
    """Keras' clipnorm: each gradient on its own, g * norm / max(|g|, norm)."""
    if not norm:
        return
    with torch.no_grad():
        for p in params:
            if p.grad is not None:
                p.grad.mul_(norm / torch.clamp(torch.linalg.vector_norm(p.grad), min=norm))


def batch_tensors(items, kind, device):
    xs = np.stack([e[0] for e in items])
    x = torch.from_numpy(xs).to(device)
    y = torch.tensor([e[1] for e in items], dtype=torch.long if kind == "text" else torch.float32, device=device)
    return x, y


def unscale(prep, v, base, o=0):
    off, sc = output_scaling(prep, o)
    return v * sc + off + (0 if prep["predict"] == "value" else base)


def evaluate(model, items, prep, loss, batch, device):
    """Loss and metrics on examples, in inference mode (forecasts compared in the data's units)."""
    model.eval()
    total, n = 0.0, 0
    truth, guess, bases = [], [], []
    with torch.no_grad():
        for k in range(0, len(items), batch):
            part = items[k : k + batch]
            x, y = batch_tensors(part, prep["kind"], device)
            pred, _ = model(x)
            total += float(loss_of(loss, pred, y, reduce_sum=True))
            n += len(part)
            if prep["kind"] == "text":
                guess += (pred.reshape(-1) > 0.5).long().tolist() if pred.shape[1] == 1 else pred.argmax(dim=1).tolist()
                truth += y.tolist()
            else:
                guess += pred.reshape(len(part), -1).double().tolist()
                truth += y.double().reshape(len(part), -1).tolist()
                bases += [e[2] for e in part]
    out = {"loss": total / n if n else float("nan")}
    if prep["kind"] == "text":
        c = len(prep["labels"])
        out["accuracy"] = sum(1 for a, b in zip(truth, guess) if a == b) / n if n else 0
        f1 = []
        for label in range(c):
            tp = sum(1 for a, b in zip(truth, guess) if a == label and b == label)
            actual = sum(1 for a in truth if a == label)
            predicted = sum(1 for b in guess if b == label)
            f1.append(2 * tp / (actual + predicted) if tp > 0 else 0)
        out["macro_f1"] = sum(f1) / c
    else:
        # Every output of every window (the overall figures of attnc's metrics).
        t = [unscale(prep, v, b[o], o) for row, b in zip(truth, bases) for o, v in enumerate(row)]
        p = [unscale(prep, v, b[o], o) for row, b in zip(guess, bases) for o, v in enumerate(row)]
        err = [b - a for a, b in zip(t, p)]
        n = len(err)
        out["rmse"] = math.sqrt(sum(e * e for e in err) / n) if n else 0
        out["mae"] = sum(abs(e) for e in err) / n if n else 0
        absolute = [abs(a) for a in t]
        if n and min(absolute) > 0 and min(absolute) >= 1e-3 * sum(absolute) / n:
            out["mape"] = 100 * sum(abs(e) / a for e, a in zip(err, absolute)) / n
    return out


def metric_text(name, value):
    """A metric of the test line; MAPE as attnc prints it (percent, two decimals)."""
    if name == "mape":
        return "MAPE n/a (target near zero)" if value is None else "MAPE %.2f%%" % value
    return "%s %.4f" % (name, value)


def test_metrics(report, prep):
    items = list(report.items())
    if prep["kind"] != "text" and "mape" not in report:
        items.append(("mape", None))
    return items


def metrics_of(report, names, prefix):
    out = {prefix + "loss": report["loss"]}
    for m in names:
        if m in report:
            out[prefix + m] = report[m]
    return out


# ---- the model directory (docs/model-directory.md)


def write_atomic(path, data):
    tmp = "%s.%s.tmp" % (path, os.urandom(6).hex())
    try:
        with open(tmp, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode("utf-8"))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def js_json(v, indent=None):
    """JSON as JavaScript writes it: integral floats without a fraction."""

    def plain(x):
        if isinstance(x, float) and math.isfinite(x) and x == int(x) and abs(x) < 2**53:
            return int(x)
        if isinstance(x, dict):
            return {k: plain(y) for k, y in x.items()}
        if isinstance(x, (list, tuple)):
            return [plain(y) for y in x]
        return x

    return json.dumps(plain(v), indent=indent, ensure_ascii=False, allow_nan=False)


OWN_FILE = re.compile(
    r"^(manifest\.json|model\.json|attnc\.json|history\.(json|svg|png)"
    r"|(weights|optimizer)\.g\d+\.bin|(optimizer|state)\.g\d+\.json)$"
)
OWN_TMP = re.compile(r"^.+\.[0-9a-f]{12}\.tmp$")


def check_out_dir(directory):
    """The output directory must be new, empty, or attnc's own model directory."""
    if not os.path.exists(directory):
        return
    if not os.path.isdir(directory):
        raise AttncError("%s is not a directory" % directory)
    foreign = [f for f in os.listdir(directory) if not (OWN_FILE.match(f) or OWN_TMP.match(f) or f == "explain")]
    if foreign:
        raise AttncError("refusing to write into %s: it holds %s, which attnc did not write" % (directory, foreign[0]))


def optimizer_slots(optimizer, named):
    """The optimizer's per-weight state as attnc names slots (`<weight>/<slot>`), and its step as `iter`."""
    slots, step = [], 0
    names = {"exp_avg": "m", "exp_avg_sq": "v", "momentum_buffer": "momentum", "square_avg": "rms"}
    for name, p in named:
        st = optimizer.state.get(p, {})
        for key in ("exp_avg", "exp_avg_sq", "momentum_buffer", "square_avg"):
            if key in st and st[key] is not None:
                slots.append((name + "/" + names[key], st[key]))
        if "step" in st:
            step = int(st["step"])
    return slots, step


def restore_optimizer(optimizer, named, directory, manifest):
    if not manifest.get("optimizer"):
        return
    shown = shown_path(directory)
    name = manifest["optimizer"]
    specs = read_dir_json(shown, name.replace(".bin", ".json") if isinstance(name, str) else name, "manifest.json's optimizer")
    data = read_dir_bytes(shown, name, "manifest.json's optimizer", BIN_BYTES)
    if not isinstance(specs, list):
        raise damaged(shown, "%s: must be a list of optimizer weights" % name.replace(".bin", ".json"))
    params = dict(named)
    keys = {"m": "exp_avg", "v": "exp_avg_sq", "momentum": "momentum_buffer", "rms": "square_avg"}
    needed = 0
    for s in specs:
        sname = s.get("name") if isinstance(s, dict) else None
        shape = s.get("shape") if isinstance(s, dict) else None
        ok = isinstance(sname, str) and isinstance(shape, list) and all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
        )
        if ok and sname != "iter":
            base, _, slot = sname.rpartition("/")
            ok = base in params and slot in keys and list(params[base].shape) == shape
        if not ok:
            raise damaged(shown, "%s: optimizer weight %s is not one of this model's slots" % (
                name.replace(".bin", ".json"),
                json.dumps(sname),
            ))
        needed += 4 * (int(np.prod(shape)) if shape else 1)
    if needed != len(data):
        raise damaged(shown, "%s: the optimizer specs need %d bytes, but %s holds %d" % (
            name.replace(".bin", ".json"),
            needed,
            name,
            len(data),
        ))
    offset, step = 0, 0
    for s in specs:
        n = int(np.prod(s["shape"])) if s["shape"] else 1
        values = np.frombuffer(data, dtype="<f4", count=n, offset=offset).reshape(s["shape"])
        offset += 4 * n
        if s["name"] == "iter":
            step = int(values)
            continue
        base, slot = s["name"].rsplit("/", 1)
        p = params[base]
        optimizer.state[p][keys[slot]] = torch.from_numpy(values.copy()).to(p.device)
    for p in params.values():
        st = optimizer.state[p]
        if st:
            st["step"] = torch.tensor(float(step))


def save_checkpoint(directory, model, topology, optimizer, meta, state):
    os.makedirs(directory, exist_ok=True)
    prev = None
    if os.path.exists(os.path.join(directory, "manifest.json")):
        prev = read_json(os.path.join(directory, "manifest.json"), "manifest.json")
    g = (prev or {}).get("generation", 0) + 1
    named = model.ir_weights()
    weights = "weights.g%d.bin" % g
    write_atomic(
        os.path.join(directory, weights),
        b"".join(p.detach().cpu().float().numpy().astype("<f4").tobytes() for _, p in named),
    )
    slots, step = optimizer_slots(optimizer, named)
    opt_file = None
    if slots:
        opt_file = "optimizer.g%d.bin" % g
        blob = b"".join(t.detach().cpu().float().numpy().astype("<f4").tobytes() for _, t in slots)
        blob += np.array([step], dtype="<f4").tobytes()
        specs = [{"name": n, "shape": list(t.shape), "dtype": "float32"} for n, t in slots] + [{
            "name": "iter",
            "shape": [],
            "dtype": "float32",
        }]
        write_atomic(os.path.join(directory, opt_file), blob)
        write_atomic(os.path.join(directory, opt_file.replace(".bin", ".json")), js_json(specs))
    state_file = "state.g%d.json" % g
    state["variables"] = [n for n, _ in named]
    write_atomic(os.path.join(directory, state_file), js_json(state, 1) + "\n")
    write_atomic(os.path.join(directory, "attnc.json"), js_json(meta, 1) + "\n")
    write_atomic(os.path.join(directory, "history.json"), js_json(state["history"], 1) + "\n")
    model_json = dict(topology)
    model_json["weightsManifest"] = [{
        "paths": [weights],
        "weights": [{"name": n, "shape": list(p.shape), "dtype": "float32"} for n, p in named],
    }]
    write_atomic(os.path.join(directory, "model.json"), js_json(model_json))
    files = ["manifest.json", "model.json", "attnc.json", "history.json", weights, state_file]
    if opt_file:
        files += [opt_file, opt_file.replace(".bin", ".json")]
    manifest = {
        "format": 1,
        "generation": g,
        "model": "model.json",
        "weights": weights,
        "optimizer": opt_file,
        "state": state_file,
        "done": state["done"],
        "files": files,
    }
    write_atomic(os.path.join(directory, "manifest.json"), js_json(manifest, 1) + "\n")
    old = set((prev or {}).get("files") or [])
    for f in os.listdir(directory):
        if (f in old and f not in files) or OWN_TMP.match(f):
            os.remove(os.path.join(directory, f))


# ---- the entry point


class Dist:
    """Where this process is among the torchrun processes (one process without torchrun)."""

    def __init__(self, device_flag):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        cuda = torch.cuda.is_available() if device_flag == "auto" else device_flag == "cuda"
        if cuda and not torch.cuda.is_available():
            raise AttncError("--device cuda: no CUDA device is available")
        self.device = torch.device("cuda", local % torch.cuda.device_count()) if cuda else torch.device("cpu")
        if self.world > 1:
            import torch.distributed as dist

            dist.init_process_group(backend="nccl" if cuda else "gloo")
            self.dist = dist
        else:
            self.dist = None

    def shard(self, n):
        """This process's rows of a global batch of n: contiguous, the first n % world processes one more."""
        base, extra = divmod(n, self.world)
        start = self.rank * base + min(self.rank, extra)
        return start, start + base + (1 if self.rank < extra else 0)

    def close(self):
        if self.dist is not None:
            self.dist.destroy_process_group()


def shown_path(path):
    """A path as messages show it: relative to the working directory when it is below it, else absolute."""
    rel = os.path.relpath(os.path.abspath(path))
    return (os.path.abspath(path) if rel == ".." or rel.startswith(".." + os.sep) else rel).replace(os.sep, "/")


def placed(path, what, allow_outside):
    """The path rule of attnc's programs (src/runtime/paths.ts): judged by where it really is (symbolic links
    resolved, also for a path that does not exist yet), it must be inside the working directory unless
    --allow-outside is given (exit code 2)."""
    real = os.path.realpath(path)
    root = os.path.realpath(os.getcwd())
    inside = real == root or real.startswith(root.rstrip(os.sep) + os.sep)
    if not inside and not allow_outside:
        raise AttncError(
            "%s %s is outside the working directory (it resolves to %s); pass --allow-outside to use it" % (
                what,
                shown_path(path),
                real,
            )
        )
    return path


def parse_args(argv, default_data, train):
    import argparse

    p = argparse.ArgumentParser(description="Trains the model as its spec says and writes an attnc model directory.")
    p.add_argument("--data", default=default_data, help="the data file (default: the spec's, relative to this program)")
    p.add_argument("--out", default=None, help="the model directory (default: runs/<Model>)")
    p.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="epochs to train to (default: the spec's, %d)" % train["epochs"],
    )
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="initial weights, dropout and shuffle (default: the spec's, %d)" % train["seed"],
    )
    p.add_argument("--resume", action="store_true", help="continue the run whose checkpoint is in --out")
    p.add_argument("--init", default=None, help="start from the weights of this attnc model directory")
    p.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        default="auto",
        help="where to train (default: cuda when available)",
    )
    p.add_argument(
        "--allow-outside",
        action="store_true",
        help="allow a data file or model directory outside the working directory (symbolic links resolved)",
    )
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many training batches in all")
    p.add_argument(
        "--dtype",
        choices=["float32", "float64"],
        default="float32",
        help="the weights' and activations' type",
    )
    return p.parse_args(argv)


def main(argv, model_class, ir, data, train, default_data, program):
    try:
        return run(argv, model_class, ir, data, train, default_data, program)
    except AttncError as e:
        print("error: %s" % e, file=sys.stderr)
        return e.code
    except KeyboardInterrupt:
        return 130


def run(argv, model_class, ir, data, train, default_data, program):
    here = os.path.dirname(os.path.abspath(program))
    args = parse_args(argv, default_data, train)
    data_path = args.data if args.data != default_data else os.path.join(here, default_data)
    out = args.out or os.path.join("runs", ir["model"])
    # Before anything is read or written: every path inside the working directory, and the data file a regular one.
    placed(data_path, "the data file", args.allow_outside)
    placed(out, "the output directory", args.allow_outside)
    if args.init:
        placed(args.init, "the model directory", args.allow_outside)
    check_data_file(data_path, args.data)
    topology_path = os.path.join(here, ir["model"] + ".model.json")
    topology = read_json(topology_path, topology_path)
    if args.epochs is not None and args.epochs < 0:
        raise AttncError("--epochs must be a whole number >= 0")
    check_out_dir(out)
    dist = Dist(args.device)
    try:
        return train_run(args, dist, model_class, ir, data, train, data_path, out, topology)
    finally:
        dist.close()


def train_run(args, dist, model_class, ir, data, train, data_path, out, topology):
    dtype = torch.float64 if args.dtype == "float64" else torch.float32
    rows = read_rows(data["source"], data_path, args.data)
    manifest_path = os.path.join(out, "manifest.json")
    resuming = args.resume and os.path.exists(manifest_path)
    if resuming:
        shown = shown_path(out)
        manifest = read_manifest(shown)
        meta = read_dir_json(shown, "attnc.json", "the directory")
        state = read_dir_json(shown, manifest.get("state"), "manifest.json's state")
        if not isinstance(meta, dict) or not isinstance(meta.get("prep"), dict) or not isinstance(meta.get("seed"), int):
            raise damaged(shown, "attnc.json: needs prep and seed")
        if not isinstance(state, dict):
            raise damaged(shown, "%s: must be a JSON object" % manifest["state"])
        prep = meta["prep"]
        seed = meta["seed"]
    else:
        if os.path.exists(manifest_path):
            raise AttncError("%s already holds a model; --resume continues it" % out)
        prep = fit(data, rows, args.data)
        seed = train["seed"] if args.seed is None else args.seed
        meta = {
            "format": 1,
            "model": ir["model"],
            "task": prep["kind"],
            "seed": seed,
            "dataPath": os.path.relpath(os.path.abspath(data_path), os.path.abspath(out)).replace(os.sep, "/"),
            "ir": ir,
            "data": data,
            "train": dict(train, seed=seed),
            "prep": prep,
        }
        state = {"epoch": 0, "batch": 0, "history": [], "best": None, "wait": 0, "dropout": {}, "done": False}
    check_output(ir, prep)
    examples = encode(data, prep, rows, args.data)
    split = {s: [e for e in examples if e[4] == s] for s in ("train", "validation", "test")}
    torch.manual_seed(seed)
    model = model_class(seed)
    if resuming:
        load_weights(model, out)
    elif args.init:
        load_weights(model, args.init)
    model = model.to(dist.device, dtype)
    named = model.ir_weights()
    params = [p for _, p in named]
    optimizer = make_optimizer(train.get("optimizer"), params)
    if resuming:
        restore_optimizer(optimizer, named, out, manifest)
    drops = model.dropouts()
    for name, d in drops:
        d.calls = state["dropout"].get(name, 0)
    net = model
    if dist.world > 1:
        net = nn.parallel.DistributedDataParallel(
            model,
            device_ids=[dist.device.index] if dist.device.type == "cuda" else None,
        )
    epochs = train["epochs"] if args.epochs is None else args.epochs
    stop = train.get("early_stop")
    higher = stop is not None and re.search("accuracy|f1", stop["monitor"]) is not None
    batch = train["batch"]
    best_weights = None
    steps = 0
    enough = False
    writer = dist.rank == 0

    def checkpoint():
        for name, d in drops:
            state["dropout"][name] = d.calls
        if writer:
            save_checkpoint(out, model, topology, optimizer, meta, state)

    epoch = state["epoch"] + 1
    while epoch <= epochs and not enough:
        items = split["train"]
        if train.get("shuffle", True):
            items = shuffled(items, epoch_seed(seed, epoch), SHUFFLE_BUFFER)
        loss_sum, seen = 0.0, 0
        for b, k in enumerate(range(0, len(items), batch)):
            if b < state["batch"]:
                continue
            part = items[k : k + batch]
            lo, hi = dist.shard(len(part))
            for _, d in drops:
                d.shard = (lo, len(part))
            x, y = batch_tensors(part[lo:hi], prep["kind"], dist.device)
            x = x.to(dtype) if x.is_floating_point() else x
            model.train()
            pred, _ = net(x)
            # The global batch's mean: each process's sum over its rows, over the global count, times the
            # number of processes (whose gradients DistributedDataParallel averages).
            loss = loss_of(train["loss"], pred, y, reduce_sum=True) * (dist.world / len(part))
            optimizer.zero_grad(set_to_none=False)
            loss.backward()
            clip_each(params, (train.get("optimizer") or {}).get("clipnorm"))
            optimizer.step()
            value = float(loss.detach()) / dist.world * len(part)
            if dist.world > 1:
                t = torch.tensor([value], dtype=torch.float64, device=dist.device)
                dist.dist.all_reduce(t)
                value = float(t[0])
            if not math.isfinite(value):
                raise AttncError(
                    "the loss became %s at epoch %d, batch %d; a smaller learning rate or clipnorm may help" % (
                        value,
                        epoch,
                        b + 1,
                    ),
                    1,
                )
            loss_sum += value
            seen += len(part)
            steps += 1
            if args.max_steps is not None and steps >= args.max_steps:
                enough = True
                break
        state["batch"] = 0
        record = {"epoch": epoch, "loss": loss_sum / seen if seen else float("nan")}
        if split["validation"]:
            record.update(metrics_of(
                evaluate(model, split["validation"], prep, train["loss"], batch, dist.device),
                train.get("metrics", []),
                "val_",
            ))
        state["history"].append(record)
        state["epoch"] = epoch
        if writer:
            print(
                "epoch %d/%d  %s" % (
                    epoch,
                    epochs,
                    "  ".join("%s %.4f" % (k, v) for k, v in record.items() if k != "epoch"),
                ),
                flush=True,
            )
        stop_now = False
        if stop:
            value = record.get(stop["monitor"])
            if value is None:
                raise AttncError("early stopping watches %s, which this run does not compute" % stop["monitor"], 1)
            best = None if state["best"] is None else state["best"]["value"]
            margin = stop["min_delta"]
            improved = best is None or (value > best + margin if higher else value < best - margin)
            if improved:
                state["best"] = {"value": value, "epoch": epoch}
                state["wait"] = 0
                best_weights = [p.detach().clone() for p in params]
            else:
                state["wait"] += 1
                if state["wait"] >= stop["patience"]:
                    stop_now = True
                    state["stopReason"] = "%s did not improve for %d epoch%s; best %.4f at epoch %d" % (
                        stop["monitor"],
                        state["wait"],
                        "" if state["wait"] == 1 else "s",
                        state["best"]["value"],
                        state["best"]["epoch"],
                    )
        checkpoint()
        if stop_now:
            break
        epoch += 1
    if best_weights is not None and state["best"] and state["best"]["epoch"] != state["epoch"]:
        with torch.no_grad():
            for p, w in zip(params, best_weights):
                p.copy_(w)
    if split["test"]:
        test = evaluate(model, split["test"], prep, train["loss"], batch, dist.device)
        if writer:
            print("test  %s" % "  ".join(metric_text(k, v) for k, v in test_metrics(test, prep)), flush=True)
    state["done"] = True
    checkpoint()
    if writer:
        print("wrote %s" % out, flush=True)
    return 0


def check_output(ir, prep):
    """The data must fit the model's head: C classes for a softmax (2 for a sigmoid), 1 value for a forecast."""
    head = [n for n in ir["nodes"] if n["name"] == ir["outputs"][-1]][0]
    units = head["shape"][-1]
    if prep["kind"] == "text":
        c = len(prep["labels"])
        if (units == 1 and c != 2) or (units > 1 and units != c):
            raise AttncError(
                "the training split has %d labels, the model's output %s has %d units" % (c, head["name"], units),
                1,
            )
