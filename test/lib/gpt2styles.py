"""GPT-2 written in independent styles, for testing rose's ONNX importer.

Each style is its own graph code with Hugging Face GPT-2 math, loaded with the
weights gpt2ref makes for the same --config/--seed (so gpt2ref's logits are the
reference for every style):

  hf       HF transformers' GPT2LMHeadModel: Conv1D as addmm, view+permute
           heads, bool `bias` buffer + torch.where(finfo.min), written-out
           gelu_new. Any --gelu (as HF's ACT2FN), tied or --untied.
  nanogpt  Karpathy's nanoGPT: nn.Linear layers, float tril buffer +
           masked_fill(-inf), nn.GELU (erf: needs --gelu erf). Tied (the
           lm_head weight shared with wte, as nanoGPT does) or --untied.
  plain    what a new user writes: reshape+transpose heads, mask built in
           forward, F.gelu (--gelu tanh or erf), tied (x @ wte.T) or --untied.

    python3 -m gpt2styles make --style hf --config tiny --seed 3 --onnx a.onnx [--hf DIR]
    python3 -m gpt2styles logits --style nanogpt --gelu erf --tokens "1,2;3,4" --out r.npy
    python3 -m gpt2styles selfcheck
"""
import argparse
import itertools
import math
import re
import sys
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import gpt2ref


# --- hf: Hugging Face transformers' GPT-2 ------------------------------------

class HFConv1D(nn.Module):
    def __init__(self, nf, nx):
        super().__init__()
        self.nf = nf
        self.weight = nn.Parameter(torch.empty(nx, nf))
        self.bias = nn.Parameter(torch.zeros(nf))

    def forward(self, x):
        size_out = x.size()[:-1] + (self.nf,)
        x = torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight)
        return x.view(size_out)


def hf_activation(name):
    if name == "tanh":  # gelu_new
        return lambda x: 0.5 * x * (1.0 + torch.tanh(
            math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))
    return F.gelu if name == "erf" else F.relu


class HFAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        n = cfg["n_positions"]
        mask = torch.tril(torch.ones((n, n), dtype=torch.bool)).view(1, 1, n, n)
        self.register_buffer("bias", mask, persistent=False)
        self.embed_dim, self.num_heads = cfg["n_embd"], cfg["n_head"]
        self.head_dim = self.embed_dim // self.num_heads
        self.c_attn = HFConv1D(3 * self.embed_dim, self.embed_dim)
        self.c_proj = HFConv1D(self.embed_dim, self.embed_dim)

    def _split_heads(self, tensor):
        tensor = tensor.view(tensor.size()[:-1] + (self.num_heads, self.head_dim))
        return tensor.permute(0, 2, 1, 3)

    def _merge_heads(self, tensor):
        tensor = tensor.permute(0, 2, 1, 3).contiguous()
        return tensor.view(tensor.size()[:-2] + (self.num_heads * self.head_dim,))

    def _attn(self, query, key, value):
        attn_weights = torch.matmul(query, key.transpose(-1, -2))
        attn_weights = attn_weights / torch.full(
            [], value.size(-1) ** 0.5, dtype=attn_weights.dtype, device=attn_weights.device)
        query_length, key_length = query.size(-2), key.size(-2)
        causal_mask = self.bias[:, :, key_length - query_length:key_length, :key_length]
        mask_value = torch.full([], torch.finfo(attn_weights.dtype).min,
                                dtype=attn_weights.dtype, device=attn_weights.device)
        attn_weights = torch.where(causal_mask, attn_weights, mask_value)
        attn_weights = nn.functional.softmax(attn_weights, dim=-1)
        return torch.matmul(attn_weights.type(value.dtype), value)

    def forward(self, hidden_states):
        query, key, value = self.c_attn(hidden_states).split(self.embed_dim, dim=2)
        attn_output = self._attn(self._split_heads(query), self._split_heads(key),
                                 self._split_heads(value))
        return self.c_proj(self._merge_heads(attn_output))


class HFMLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        inner = cfg["n_inner"] or 4 * cfg["n_embd"]
        self.c_fc, self.c_proj = HFConv1D(inner, cfg["n_embd"]), HFConv1D(cfg["n_embd"], inner)
        self.act = hf_activation(cfg["gelu"])

    def forward(self, hidden_states):
        return self.c_proj(self.act(self.c_fc(hidden_states)))


class HFBlock(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, eps = cfg["n_embd"], cfg["layer_norm_epsilon"]
        self.ln_1, self.attn = nn.LayerNorm(d, eps=eps), HFAttention(cfg)
        self.ln_2, self.mlp = nn.LayerNorm(d, eps=eps), HFMLP(cfg)

    def forward(self, hidden_states):
        residual = hidden_states
        hidden_states = self.attn(self.ln_1(hidden_states)) + residual
        residual = hidden_states
        return residual + self.mlp(self.ln_2(hidden_states))


class HFModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.wte = nn.Embedding(cfg["vocab_size"], cfg["n_embd"])
        self.wpe = nn.Embedding(cfg["n_positions"], cfg["n_embd"])
        self.h = nn.ModuleList([HFBlock(cfg) for _ in range(cfg["n_layer"])])
        self.ln_f = nn.LayerNorm(cfg["n_embd"], eps=cfg["layer_norm_epsilon"])

    def forward(self, input_ids):
        input_shape = input_ids.size()
        input_ids = input_ids.view(-1, input_shape[-1])
        position_ids = torch.arange(0, input_shape[-1], dtype=torch.long, device=input_ids.device)
        position_ids = position_ids.unsqueeze(0).view(-1, input_shape[-1])
        hidden_states = self.wte(input_ids) + self.wpe(position_ids)
        output_shape = input_shape + (hidden_states.size(-1),)
        for block in self.h:
            hidden_states = block(hidden_states)
        return self.ln_f(hidden_states).view(output_shape)


class HFLMHead(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.transformer = HFModel(cfg)
        self.lm_head = nn.Linear(cfg["n_embd"], cfg["vocab_size"], bias=False)
        if cfg["tied"]:
            self.lm_head.weight = self.transformer.wte.weight

    def forward(self, input_ids):
        return self.lm_head(self.transformer(input_ids))


# --- nanogpt: Karpathy's nanoGPT -----------------------------------------------

class CausalSelfAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.n_embd, self.n_head, bs = cfg["n_embd"], cfg["n_head"], cfg["n_positions"]
        self.c_attn = nn.Linear(self.n_embd, 3 * self.n_embd)
        self.c_proj = nn.Linear(self.n_embd, self.n_embd)
        self.register_buffer("bias", torch.tril(torch.ones(bs, bs)).view(1, 1, bs, bs),
                             persistent=False)

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float('-inf'))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class NanoBlock(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, eps = cfg["n_embd"], cfg["layer_norm_epsilon"]
        inner = cfg["n_inner"] or 4 * d
        self.ln_1, self.attn = nn.LayerNorm(d, eps=eps), CausalSelfAttention(cfg)
        self.ln_2 = nn.LayerNorm(d, eps=eps)
        self.mlp = nn.ModuleDict(dict(c_fc=nn.Linear(d, inner), gelu=nn.GELU(),
                                      c_proj=nn.Linear(inner, d)))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp.c_proj(self.mlp.gelu(self.mlp.c_fc(self.ln_2(x))))


class NanoGPT(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["n_embd"]
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(cfg["vocab_size"], d), wpe=nn.Embedding(cfg["n_positions"], d),
            h=nn.ModuleList([NanoBlock(cfg) for _ in range(cfg["n_layer"])]),
            ln_f=nn.LayerNorm(d, eps=cfg["layer_norm_epsilon"])))
        self.lm_head = nn.Linear(d, cfg["vocab_size"], bias=False)
        if cfg["tied"]:
            self.transformer.wte.weight = self.lm_head.weight

    def forward(self, idx):
        b, t = idx.size()
        pos = torch.arange(0, t, dtype=torch.long, device=idx.device)
        x = self.transformer.wte(idx) + self.transformer.wpe(pos)
        for block in self.transformer.h:
            x = block(x)
        return self.lm_head(self.transformer.ln_f(x))


# --- plain: an independently written GPT-2 -------------------------------------

class PlainAttention(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)

    def forward(self, x):
        B, S, E = x.shape
        H, D = self.heads, E // self.heads
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        q, k, v = (t.reshape(B, S, H, D).transpose(1, 2) for t in (q, k, v))
        scores = q @ k.transpose(-2, -1) / math.sqrt(D)
        tril = torch.tril(torch.ones(S, S, dtype=torch.bool, device=x.device))
        scores = scores.masked_fill(~tril, float('-inf'))
        out = torch.softmax(scores, dim=-1) @ v
        return self.out(out.transpose(1, 2).reshape(B, S, E))


class PlainLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, eps = cfg["n_embd"], cfg["layer_norm_epsilon"]
        self.norm1, self.norm2 = nn.LayerNorm(d, eps=eps), nn.LayerNorm(d, eps=eps)
        self.attn = PlainAttention(d, cfg["n_head"])
        self.up = nn.Linear(d, cfg["n_inner"] or 4 * d)
        self.down = nn.Linear(cfg["n_inner"] or 4 * d, d)
        self.approximate = {"tanh": "tanh", "erf": "none"}[cfg["gelu"]]

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.down(F.gelu(self.up(self.norm2(x)), approximate=self.approximate))


class PlainGPT(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["n_embd"]
        self.tok_emb = nn.Embedding(cfg["vocab_size"], d)
        self.pos_emb = nn.Embedding(cfg["n_positions"], d)
        self.layers = nn.ModuleList([PlainLayer(cfg) for _ in range(cfg["n_layer"])])
        self.norm = nn.LayerNorm(d, eps=cfg["layer_norm_epsilon"])
        self.head = None if cfg["tied"] else nn.Linear(d, cfg["vocab_size"], bias=False)

    def forward(self, ids):
        S = ids.shape[1]
        pos = torch.arange(S, device=ids.device).unsqueeze(0)
        x = self.tok_emb(ids) + self.pos_emb(pos)
        for layer in self.layers:
            x = layer(x)
        x = self.norm(x)
        return x @ self.tok_emb.weight.T if self.head is None else self.head(x)


# --- weights from gpt2ref --------------------------------------------------------

# Per style: its class, the --gelu values it takes, whether its layers are
# nn.Linear (weight [out, in], the transpose of gpt2ref's Conv1D [in, out]), and
# the renames (regex, replacement) from gpt2ref's parameter names to its own.
TO_HF = [(r"^(?!lm_head\.)", "transformer.")]
STYLES = {
    "hf": (HFLMHead, ("tanh", "erf", "relu"), False, TO_HF),
    "nanogpt": (NanoGPT, ("erf",), True, TO_HF),
    "plain": (PlainGPT, ("tanh", "erf"), True, [
        (r"^h\.", "layers."), (r"ln_1", "norm1"), (r"ln_2", "norm2"), (r"attn\.c_attn", "attn.qkv"),
        (r"attn\.c_proj", "attn.out"), (r"mlp\.c_fc", "up"), (r"mlp\.c_proj", "down"),
        (r"^wte", "tok_emb"), (r"^wpe", "pos_emb"), (r"^ln_f", "norm"), (r"^lm_head", "head")]),
}


def make_style(style, cfg, seed):
    """(style model, gpt2ref model of cfg and seed), same weights, both eval()."""
    cls, gelus, linear, renames = STYLES[style]
    if cfg["gelu"] not in gelus:
        sys.exit(f"gpt2styles: style {style} takes --gelu {' or '.join(gelus)}, not {cfg['gelu']}")
    ref = gpt2ref.make_model(cfg, seed)
    model = cls(cfg).eval()
    state = {}
    for name, value in ref.state_dict().items():
        conv = name.startswith("h.") and name.endswith(".weight") and ".c_" in name
        for pattern, replacement in renames:
            name = re.sub(pattern, replacement, name)
        state[name] = value.t() if conv and linear else value
    for name in model.state_dict():  # a tied weight, under its other name
        if name not in state and name.endswith(("lm_head.weight", "wte.weight")):
            state[name] = ref.wte.weight
    model.load_state_dict(state, strict=True)
    return model, ref


def logits64(model, ids):
    with torch.no_grad():
        return model.double()(ids).numpy()


def selfcheck():
    """Every style against gpt2ref in float64 (to 1e-10), and its ONNX export."""
    import tempfile
    import onnx
    ids = torch.tensor([[1, 5, 9, 2, 7, 3], [4, 0, 8, 6, 1, 2]])
    variants = [("hf", "tanh", True), ("hf", "erf", False), ("hf", "relu", True),
                ("nanogpt", "erf", False), ("nanogpt", "erf", True),
                ("plain", "tanh", True), ("plain", "erf", False)]
    for config in ("rosellm-2l", "tiny"):
        for (style, gelu, tied), sharp in itertools.product(variants, (False, True)):
            cfg = gpt2ref.make_config(config, tied=tied, gelu=gelu, sharp=sharp)
            model, ref = make_style(style, cfg, 7)
            with tempfile.NamedTemporaryFile(suffix=".onnx") as f:
                gpt2ref.export_onnx(model, cfg, f.name)
                onnx.checker.check_model(onnx.load(f.name))
            err = float(np.abs(logits64(model, ids) - logits64(ref, ids)).max())
            print(f"{config:10} {style:8} gelu={gelu:4} tied={tied:d} sharp={sharp:d} "
                  f"max|diff|={err:.3g}")
            if not err <= 1e-10:  # NaN fails too
                sys.exit(f"gpt2styles: {style} differs from gpt2ref by {err}")


def main(argv):
    p = argparse.ArgumentParser(prog="gpt2styles")
    sub = p.add_subparsers(dest="cmd", required=True)
    mk = sub.add_parser("make", help="export a style's model (gpt2ref's weights) as ONNX")
    lg = sub.add_parser("logits", help="logits of a style's model, as gpt2ref logits")
    sub.add_parser("selfcheck", help="compare every style with gpt2ref")
    for q in (mk, lg):
        q.add_argument("--style", required=True, choices=sorted(STYLES))
        gpt2ref.model_args(q)
    mk.add_argument("--onnx", required=True, help="write the ONNX export here")
    mk.add_argument("--hf", help="also write gpt2ref's Hugging Face checkpoint of the weights")
    lg.add_argument("--tokens", required=True,
                    help="a .npy file, or comma-separated ids with ';' between sequences")
    lg.add_argument("--out", required=True, help=".npy file for float32 [batch, seq, vocab]")
    args = p.parse_args(argv)
    # The styles' size arithmetic is traced to constants on purpose; say nothing.
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
    if args.cmd == "selfcheck":
        selfcheck()
        return 0
    cfg = gpt2ref.config_of(args)
    model, ref = make_style(args.style, cfg, args.seed)
    if args.cmd == "logits":
        if args.tokens.endswith(".npy"):
            ids = torch.from_numpy(np.load(args.tokens).astype(np.int64))
        else:
            ids = torch.tensor([[int(t) for t in row.split(",")] for row in args.tokens.split(";")])
        # As gpt2ref logits: computed in float64, stored as float32.
        np.save(args.out, logits64(model, ids).astype(np.float32))
    else:
        gpt2ref.export_onnx(model, cfg, args.onnx)
        if args.hf:
            gpt2ref.save_hf(ref, cfg, args.hf)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
