"""Independent PyTorch GPT-2 reference for rose's tests (shares no code with rose).

Builds GPT-2-style models with random weights, writes them as Hugging Face
checkpoints (config.json + model.safetensors) and as ONNX exports
(torch.onnx.export, opset 17, dynamic batch/seq), and computes reference logits.

    python3 -m gpt2ref make --config rosellm-2l --seed 1 --hf DIR [--onnx FILE]
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIGS = {
    # The rosellm test config.
    "rosellm-1l": dict(vocab_size=10000, n_positions=128, n_embd=64, n_layer=1, n_head=4, n_inner=256),
    "rosellm-2l": dict(vocab_size=10000, n_positions=128, n_embd=64, n_layer=2, n_head=4, n_inner=256),
    # Small and odd-sized, n_inner left to the 4 * n_embd default.
    # The fuzz corpus seeds (test/Fuzz/corpus/onnx): as small as a model gets.
    "micro": dict(vocab_size=11, n_positions=6, n_embd=8, n_layer=1, n_head=2, n_inner=16),
    "tiny": dict(vocab_size=97, n_positions=32, n_embd=32, n_layer=2, n_head=2, n_inner=None),
    "wide": dict(vocab_size=512, n_positions=64, n_embd=96, n_layer=3, n_head=6, n_inner=192),
    # Deep and narrow: 12 layers.
    "deep": dict(vocab_size=1000, n_positions=64, n_embd=64, n_layer=12, n_head=4, n_inner=256),
    # GPT-2 124M shapes.
    "gpt2-124m": dict(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12, n_inner=None),
}


class Conv1D(nn.Module):
    """HF GPT-2's linear layer: weight is [in, out]."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_in, n_out) * 0.02)
        self.bias = nn.Parameter(torch.randn(n_out) * 0.02)

    def forward(self, x):
        return torch.matmul(x, self.weight) + self.bias


# A deliberately wrong reference for the canaries (`logits --bug`): every
# numeric test family checks that its comparison FAILS against one of these,
# so the suite proves that it can fail.
BUGS = ["gelu-form", "swap-qk", "no-scale", "ln-eps"]
BUG = None

# bench/gpu_gpt2.py sets this: PyTorch eager's fused attention (SDPA), the
# fair baseline for rose's fused kernel. Tests keep the explicit formula.
USE_SDPA = False


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class Attention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.c_attn = Conv1D(d, 3 * d)
        self.c_proj = Conv1D(d, d)

    def forward(self, x):
        b, s, d = x.shape
        q, k, v = self.c_attn(x).split(d, dim=2)
        if BUG == "swap-qk":
            q, k = k, q
        hd = d // self.heads
        q = q.view(b, s, self.heads, hd).transpose(1, 2)
        k = k.view(b, s, self.heads, hd).transpose(1, 2)
        v = v.view(b, s, self.heads, hd).transpose(1, 2)
        if USE_SDPA:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.c_proj(y.transpose(1, 2).contiguous().view(b, s, d))
        att = torch.matmul(q, k.transpose(-2, -1))
        if BUG != "no-scale":
            att = att / math.sqrt(hd)
        mask = torch.ones(s, s, dtype=torch.bool, device=x.device).triu(1)
        att = att.masked_fill(mask, float("-inf"))
        att = torch.softmax(att, dim=-1)
        y = torch.matmul(att, v).transpose(1, 2).contiguous().view(b, s, d)
        return self.c_proj(y)


class MLP(nn.Module):
    def __init__(self, d, ff, gelu):
        super().__init__()
        self.c_fc = Conv1D(d, ff)
        self.c_proj = Conv1D(ff, d)
        self.gelu = gelu

    def forward(self, x):
        h = self.c_fc(x)
        tanh = self.gelu == "tanh"
        if BUG == "gelu-form":
            tanh = not tanh
        if self.gelu == "relu":
            h = F.relu(h)
        else:
            h = gelu_tanh(h) if tanh else F.gelu(h)
        return self.c_proj(h)


def _layer_norm(d, eps):
    ln = nn.LayerNorm(d, eps=eps * 10 if BUG == "ln-eps" else eps)
    with torch.no_grad():  # not the identity, so a swapped weight/bias shows
        ln.weight.copy_(1.0 + 0.1 * torch.randn(d))
        ln.bias.copy_(0.1 * torch.randn(d))
    return ln


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["n_embd"]
        self.ln_1 = _layer_norm(d, cfg["layer_norm_epsilon"])
        self.attn = Attention(d, cfg["n_head"])
        self.ln_2 = _layer_norm(d, cfg["layer_norm_epsilon"])
        self.mlp = MLP(d, cfg["n_inner"] or 4 * d, cfg["gelu"])

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT2(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["n_embd"]
        self.cfg = cfg
        self.wte = nn.Embedding(cfg["vocab_size"], d)
        self.wpe = nn.Embedding(cfg["n_positions"], d)
        with torch.no_grad():
            self.wte.weight.normal_(0, 0.02)
            self.wpe.weight.normal_(0, 0.01)
        self.h = nn.ModuleList([Block(cfg) for _ in range(cfg["n_layer"])])
        self.ln_f = _layer_norm(d, cfg["layer_norm_epsilon"])
        self.lm_head = None
        if not cfg["tied"]:
            self.lm_head = nn.Linear(d, cfg["vocab_size"], bias=False)
            with torch.no_grad():
                self.lm_head.weight.normal_(0, 0.02)

    def forward(self, ids):
        pos = torch.arange(ids.shape[1], device=ids.device)
        x = self.wte(ids) + self.wpe(pos)
        for block in self.h:
            x = block(x)
        x = self.ln_f(x)
        if self.lm_head is not None:
            return self.lm_head(x)
        return torch.matmul(x, self.wte.weight.t())


def make_config(name, tied=True, gelu="tanh", eps=1e-5, sharp=False):
    cfg = dict(CONFIGS[name])
    cfg.update(tied=tied, gelu=gelu, layer_norm_epsilon=eps, sharp=sharp)
    return cfg


def make_model(cfg, seed):
    torch.manual_seed(seed)
    model = GPT2(cfg).eval()
    if cfg.get("sharp"):
        # Init std 0.02 leaves attention almost uniform (max |score| ~0.1), so
        # masking, scaling or q/k bugs move logits by only 1e-3. Sharp weights
        # give peaked softmaxes (|scores| of several units) and GELU inputs of
        # order 1, where every term of the formulas matters.
        with torch.no_grad():
            for block in model.h:
                block.attn.c_attn.weight.mul_(15.0)
                block.mlp.c_fc.weight.mul_(5.0)
    return model


def model_args(parser):
    """The flags that identify a model; `make` and `logits` take the same."""
    parser.add_argument("--config", default="rosellm-2l", choices=sorted(CONFIGS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--untied", action="store_true")
    parser.add_argument("--gelu", default="tanh", choices=["tanh", "erf", "relu"],
                        help="the MLP activation (relu: HF activation_function relu)")
    parser.add_argument("--eps", type=float, default=1e-5, help="layer_norm_epsilon")
    parser.add_argument("--sharp", action="store_true",
                        help="large attention and MLP weights: peaked softmax, large activations")


def config_of(args):
    return make_config(args.config, tied=not args.untied, gelu=args.gelu, eps=args.eps,
                       sharp=args.sharp)


def write_safetensors(path, tensors):
    """tensors: dict name -> numpy array (written in insertion order); a
    uint16 array is bfloat16 bits (numpy has no bfloat16)."""
    dtypes = {np.dtype("float32"): "F32", np.dtype("float16"): "F16", np.dtype("int64"): "I64",
              np.dtype("int32"): "I32", np.dtype("uint16"): "BF16"}
    header, offset, blobs = {}, 0, []
    for name, array in tensors.items():
        array = np.ascontiguousarray(array)
        blob = array.tobytes()
        header[name] = {"dtype": dtypes[array.dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    dtypes = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
              "BF16": np.uint16}
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        b, e = entry["data_offsets"]
        array = np.frombuffer(data[base + b:base + e], dtype=dtypes[entry["dtype"]]).reshape(entry["shape"])
        if entry["dtype"] == "BF16":
            array = (array.astype(np.uint32) << 16).view(np.float32)
        out[name] = array
    return out


def stored(value, dtype):
    """A weight as a checkpoint of `dtype` stores it: float32, float16, or
    bfloat16 (as uint16 bits)."""
    if dtype == "bfloat16":
        return value.detach().cpu().to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    return value.detach().cpu().numpy().astype(dtype)


def round_weights(model, dtype):
    """The model with every weight rounded through `dtype`, as a checkpoint
    stored in it holds them (the reference for F16/BF16 checkpoints)."""
    torch_dtype = {"float32": torch.float32, "float16": torch.float16,
                   "bfloat16": torch.bfloat16}[dtype]
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(torch_dtype).to(p.dtype))
    return model


def save_hf(model, cfg, directory, prefix="", dtype="float32", shards=1, extra=None):
    """A Hugging Face directory: config.json and the weights stored as
    `dtype`, in one model.safetensors or, with shards > 1, in
    model-0000k-of-0000N.safetensors files named by
    model.safetensors.index.json. `extra`: more tensors (name -> array)."""
    os.makedirs(directory, exist_ok=True)
    tensors = {}
    for name, value in model.state_dict().items():
        tensors[name if name.startswith("lm_head.") else prefix + name] = stored(value, dtype)
    tensors.update(extra or {})
    if shards == 1:
        write_safetensors(os.path.join(directory, "model.safetensors"), tensors)
    else:
        names = list(tensors)
        weight_map, total = {}, 0
        for k in range(shards):
            part = names[k * len(names) // shards:(k + 1) * len(names) // shards]
            file = f"model-{k + 1:05d}-of-{shards:05d}.safetensors"
            write_safetensors(os.path.join(directory, file), {n: tensors[n] for n in part})
            for n in part:
                weight_map[n] = file
                total += tensors[n].nbytes
        with open(os.path.join(directory, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    config = {
        "model_type": "gpt2",
        "vocab_size": cfg["vocab_size"], "n_positions": cfg["n_positions"], "n_embd": cfg["n_embd"],
        "n_layer": cfg["n_layer"], "n_head": cfg["n_head"], "n_inner": cfg["n_inner"],
        "layer_norm_epsilon": cfg["layer_norm_epsilon"],
        "activation_function": {"tanh": "gelu_new", "erf": "gelu", "relu": "relu"}[cfg["gelu"]],
        "tie_word_embeddings": cfg["tied"],
    }
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config, f, indent=2)


def export_onnx(model, cfg, path, batch=2, seq=5):
    ids = torch.randint(0, cfg["vocab_size"], (batch, seq))
    torch.onnx.export(model, (ids,), path, opset_version=17, input_names=["input_ids"],
                      output_names=["logits"],
                      dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "logits": {0: "batch", 1: "seq"}})


def main(argv):
    p = argparse.ArgumentParser(prog="gpt2ref")
    sub = p.add_subparsers(dest="cmd", required=True)
    mk = sub.add_parser("make", help="make a random model and write it")
    model_args(mk)
    mk.add_argument("--hf", help="write a Hugging Face checkpoint directory here")
    mk.add_argument("--prefix", default="", help="name prefix in the checkpoint, e.g. transformer.")
    mk.add_argument("--onnx", help="write an ONNX export here")
    mk.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"],
                    help="how the checkpoint stores the weights")
    mk.add_argument("--shards", type=int, default=1,
                    help="split the checkpoint into this many files with an index")
    mk.add_argument("--mask-buffers", action="store_true",
                    help="also store the h.N.attn.bias causal-mask buffers the published gpt2 "
                         "checkpoint has (not weights: a loader must ignore them)")
    mk.add_argument("--set", action="append", default=[],
                    help="override a config.json field after writing (key=json)")
    lg = sub.add_parser("logits", help="reference logits of a model made with `make`")
    model_args(lg)
    lg.add_argument("--bug", choices=BUGS,
                    help="a deliberately wrong reference (canaries): the other GELU form, q and k "
                         "swapped, no 1/sqrt(head_dim) scale, or 10x the layer-norm epsilon")
    lg.add_argument("--tokens", required=True,
                    help="a .npy file, or comma-separated ids with ';' between sequences")
    lg.add_argument("--out", required=True, help=".npy file for float32 [batch, seq, vocab]")
    lg.add_argument("--device", default="cpu", help="cpu or cuda")
    lg.add_argument("--weights-dtype", default="float32", choices=["float32", "float16", "bfloat16"],
                    help="round the weights through this dtype first (what a checkpoint "
                         "made with `make --dtype` holds)")
    lg.add_argument("--precision", default="float64", choices=["float64", "float32", "tf32", "bf16", "fp16"],
                    help="float64 (the reference), or what PyTorch on a GPU computes in")
    gn = sub.add_parser("generate", help="greedy continuation, recomputing the whole "
                                         "sequence each step (no cache), float64")
    model_args(gn)
    gn.add_argument("--tokens", required=True, help="prompts: a .npy file [batch, seq]")
    gn.add_argument("--steps", type=int, required=True)
    gn.add_argument("--out", required=True, help=".npy file for int64 [batch, steps]")
    tk = sub.add_parser("tokens", help="write random token ids as .npy")
    tk.add_argument("--vocab", type=int, required=True)
    tk.add_argument("--batch", type=int, default=2)
    tk.add_argument("--seq", type=int, default=16)
    tk.add_argument("--seed", type=int, default=0)
    tk.add_argument("--dtype", default="int64")
    tk.add_argument("--out", required=True)
    args = p.parse_args(argv)

    if args.cmd == "tokens":
        rng = np.random.default_rng(args.seed)
        np.save(args.out, rng.integers(0, args.vocab, (args.batch, args.seq)).astype(args.dtype))
        return 0
    if args.cmd == "logits":
        global BUG
        BUG = args.bug
        cfg = config_of(args)
        dtype = {"float64": torch.float64, "float32": torch.float32, "tf32": torch.float32,
                 "bf16": torch.bfloat16, "fp16": torch.float16}[args.precision]
        torch.backends.cuda.matmul.allow_tf32 = args.precision == "tf32"
        model = round_weights(make_model(cfg, args.seed), args.weights_dtype)
        model = model.to(device=args.device, dtype=dtype)
        if args.tokens.endswith(".npy"):
            ids = torch.from_numpy(np.load(args.tokens).astype(np.int64))
        else:
            ids = torch.tensor([[int(t) for t in row.split(",")] for row in args.tokens.split(";")])
        with torch.no_grad():
            logits = model(ids.to(args.device)).cpu()
        np.save(args.out, logits.float().numpy())
        return 0

    if args.cmd == "generate":
        import greedy
        model = make_model(config_of(args), args.seed).double()

        def forward(ids):
            with torch.no_grad():
                return model(torch.from_numpy(ids)).numpy()
        greedy.save(args.out, *greedy.greedy(forward, np.load(args.tokens), args.steps))
        return 0

    cfg = config_of(args)
    model = make_model(cfg, args.seed)
    if args.hf:
        extra = {}
        if args.mask_buffers:
            n = cfg["n_positions"]
            mask = np.tril(np.ones((n, n), dtype=np.float32)).reshape(1, 1, n, n)
            for i in range(cfg["n_layer"]):
                extra[f"{args.prefix}h.{i}.attn.bias"] = mask
        save_hf(model, cfg, args.hf, prefix=args.prefix, dtype=args.dtype, shards=args.shards,
                extra=extra)
        if args.set:
            path = os.path.join(args.hf, "config.json")
            with open(path) as f:
                config = json.load(f)
            for item in args.set:
                key, value = item.split("=", 1)
                config[key] = json.loads(value)
            with open(path, "w") as f:
                json.dump(config, f)
    if args.onnx:
        export_onnx(model, cfg, args.onnx)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
