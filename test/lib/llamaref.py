"""An independent PyTorch Llama (and Qwen2), written from the architecture
(no `transformers`): random checkpoints as Hugging Face publishes them, and
float64 logits.

    python3 -m llamaref make --config gqa --seed 1 --hf DIR [--dtype bf16]
    python3 -m llamaref logits --config gqa --seed 1 --tokens t.npy --out ref.npy

Configs: gqa (8 heads, 2 kv heads), mha (4/4, tied), mqa (4/1), wide (8/8:
tp=8), qwen (q/k/v biases, theta 500000), llama3-scaled rope, mistral (a
sliding window of 8 tokens).
"""
import argparse
import json
import math
import os

import numpy as np
import torch

import gpt2ref

CONFIGS = {
    # name: (hidden, layers, heads, kv heads, intermediate, vocab, extra config)
    "gqa": (64, 2, 8, 2, 96, 101, {}),
    "mha": (32, 2, 4, 4, 64, 64, {"tie_word_embeddings": True}),
    "mqa": (32, 2, 4, 1, 48, 50, {"rope_theta": 500000.0}),
    "wide": (64, 1, 8, 8, 64, 64, {}),
    "qwen": (64, 2, 8, 2, 96, 96, {"model_type": "qwen2", "rope_theta": 500000.0}),
    "llama3": (64, 1, 4, 2, 80, 77, {"rope_scaling": {
        "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
        "high_freq_factor": 4.0, "original_max_position_embeddings": 8}}),
    "mistral": (64, 2, 8, 2, 96, 101, {"model_type": "mistral", "sliding_window": 8}),
    # The CPU benchmark's Llama of about 125M parameters (bench/cpu_ort.py).
    "bench-125m": (768, 12, 12, 4, 2048, 32000, {}),
    # For a sentencepiece vocabulary of 600 trained at test time.
    "spm600": (64, 2, 8, 2, 96, 600, {}),
}


def config_dict(name):
    hidden, layers, heads, kv, inter, vocab, extra = CONFIGS[name]
    c = {"model_type": "llama", "architectures": ["LlamaForCausalLM"],
         "hidden_size": hidden, "num_hidden_layers": layers,
         "num_attention_heads": heads, "num_key_value_heads": kv,
         "intermediate_size": inter, "vocab_size": vocab,
         "max_position_embeddings": 256, "rms_norm_eps": 1e-5,
         "rope_theta": 10000.0, "hidden_act": "silu",
         "tie_word_embeddings": False}
    c.update(extra)
    if c["model_type"] == "qwen2":
        c["architectures"] = ["Qwen2ForCausalLM"]
    if c["model_type"] == "mistral":
        c["architectures"] = ["MistralForCausalLM"]
    return c


def weights(c, seed):
    g = torch.Generator().manual_seed(seed)
    h, inter = c["hidden_size"], c["intermediate_size"]
    heads, kv = c["num_attention_heads"], c["num_key_value_heads"]
    hd = h // heads
    bias = c["model_type"] == "qwen2"

    # Projections' stds are for hidden <= 64; wider models (hidden > 64) scale
    # them by sqrt(64 / fan-in) so that scores and activations stay in range (the
    # benchmark's d = 768 model is otherwise too sharp for float32 to follow).
    def rnd(*shape, std=0.08):
        fan_in = shape[-1] if h > 64 and len(shape) == 2 and shape[0] != c["vocab_size"] else 64
        return torch.randn(*shape, generator=g, dtype=torch.float64) * std * (64 / fan_in) ** 0.5

    w = {"model.embed_tokens.weight": rnd(c["vocab_size"], h, std=1.0)}
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = 1.0 + rnd(h, std=0.1)
        w[p + "post_attention_layernorm.weight"] = 1.0 + rnd(h, std=0.1)
        w[p + "self_attn.q_proj.weight"] = rnd(heads * hd, h, std=0.3)
        w[p + "self_attn.k_proj.weight"] = rnd(kv * hd, h, std=0.3)
        w[p + "self_attn.v_proj.weight"] = rnd(kv * hd, h)
        if bias:
            w[p + "self_attn.q_proj.bias"] = rnd(heads * hd, std=0.5)
            w[p + "self_attn.k_proj.bias"] = rnd(kv * hd, std=0.5)
            w[p + "self_attn.v_proj.bias"] = rnd(kv * hd, std=0.5)
        w[p + "self_attn.o_proj.weight"] = rnd(h, heads * hd)
        w[p + "mlp.gate_proj.weight"] = rnd(inter, h)
        w[p + "mlp.up_proj.weight"] = rnd(inter, h)
        w[p + "mlp.down_proj.weight"] = rnd(h, inter)
    w["model.norm.weight"] = 1.0 + rnd(h, std=0.1)
    if not c["tie_word_embeddings"]:
        w["lm_head.weight"] = rnd(c["vocab_size"], h, std=0.3)
    return w


def inv_freq(c, hd):
    """1 / theta^(2i/d) in float32, then rope_scaling, as HF computes it."""
    base = torch.tensor(c["rope_theta"], dtype=torch.float32)
    f = 1.0 / (base ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
    s = c.get("rope_scaling")
    if s and s.get("rope_type", s.get("type")) == "linear":
        f = f / s["factor"]
    elif s and s.get("rope_type", s.get("type")) == "llama3":
        factor, low, high = s["factor"], s["low_freq_factor"], s["high_freq_factor"]
        old = s["original_max_position_embeddings"]
        low_wl, high_wl = old / low, old / high
        wl = 2 * math.pi / f
        scaled = torch.where(wl > low_wl, f / factor, f)
        smooth = (old / wl - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wl < high_wl) * ~(wl > low_wl)
        f = torch.where(medium, smoothed, scaled)
    return f


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope(x, cos, sin):
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], -1)
    return x * cos + rotated * sin


def logits(c, w, tokens):
    """float64 forward of the whole sequence (no cache)."""
    ids = torch.as_tensor(tokens)
    b, s = ids.shape
    h = c["hidden_size"]
    heads, kv = c["num_attention_heads"], c["num_key_value_heads"]
    hd = h // heads
    eps = c["rms_norm_eps"]
    x = w["model.embed_tokens.weight"][ids]
    freqs = inv_freq(c, hd)
    angles = (torch.arange(s, dtype=torch.float32)[:, None] * freqs[None, :]).double()
    emb = torch.cat([angles, angles], -1)
    cos, sin = emb.cos()[None, None], emb.sin()[None, None]
    mask = torch.triu(torch.ones(s, s, dtype=torch.bool), 1)
    if c.get("sliding_window"):  # Mistral: query i sees keys i - window < j <= i
        mask |= torch.tril(torch.ones(s, s, dtype=torch.bool), -c["sliding_window"])
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        y = rms_norm(x, w[p + "input_layernorm.weight"], eps)

        def proj(name, out_heads):
            t = y @ w[p + f"self_attn.{name}_proj.weight"].T
            if p + f"self_attn.{name}_proj.bias" in w:
                t = t + w[p + f"self_attn.{name}_proj.bias"]
            return t.view(b, s, out_heads, hd).transpose(1, 2)

        q, k, v = proj("q", heads), proj("k", kv), proj("v", kv)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        k = k.repeat_interleave(heads // kv, dim=1)
        v = v.repeat_interleave(heads // kv, dim=1)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        scores = scores.masked_fill(mask, float("-inf"))
        a = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, s, heads * hd)
        x = x + a @ w[p + "self_attn.o_proj.weight"].T
        y = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        gate = y @ w[p + "mlp.gate_proj.weight"].T
        up = y @ w[p + "mlp.up_proj.weight"].T
        x = x + (torch.nn.functional.silu(gate) * up) @ w[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
    return (x @ head.T).numpy()


def write_checkpoint(c, stored, directory, dtype="f32", shards=1):
    """config.json and the stored (float32) weights as `dtype`: one
    model.safetensors or, with shards > 1, model-0000k-of-0000N.safetensors
    named by model.safetensors.index.json, as Hugging Face publishes them."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(c, f, indent=1)
    if dtype == "bf16":
        arrays = {k: (v.float().numpy().view(np.uint32) >> 16).astype(np.uint16)
                  for k, v in stored.items()}
    else:
        arrays = {k: v.numpy() for k, v in stored.items()}
    if shards == 1:
        gpt2ref.write_safetensors(os.path.join(directory, "model.safetensors"), arrays)
        return
    names, weight_map, total = list(arrays), {}, 0
    for k in range(shards):
        part = names[k * len(names) // shards:(k + 1) * len(names) // shards]
        file = f"model-{k + 1:05d}-of-{shards:05d}.safetensors"
        gpt2ref.write_safetensors(os.path.join(directory, file), {n: arrays[n] for n in part})
        for n in part:
            weight_map[n] = file
            total += arrays[n].nbytes
    with open(os.path.join(directory, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=1)


def read_checkpoint(directory):
    """config.json and model.safetensors of a Hugging Face directory (read
    with gpt2ref's independent safetensors reader; bfloat16 widened exactly)."""
    with open(os.path.join(directory, "config.json")) as f:
        c = json.load(f)
    c.setdefault("rope_theta", 10000.0)
    c.setdefault("tie_word_embeddings", False)
    arrays = gpt2ref.read_safetensors(os.path.join(directory, "model.safetensors"))
    return c, {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in arrays.items()}


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("--config", required=True, choices=CONFIGS)
    m.add_argument("--seed", type=int, default=1)
    m.add_argument("--hf", required=True)
    m.add_argument("--dtype", choices=["f32", "bf16"], default="f32")
    m.add_argument("--tied", action="store_true")
    m.add_argument("--shards", type=int, default=1)
    lg = sub.add_parser("logits")
    lg.add_argument("--seed", type=int, default=1)
    lg.add_argument("--tokens", required=True)
    lg.add_argument("--out", required=True)
    lg.add_argument("--tied", action="store_true")
    lg.add_argument("--dtype", choices=["f32", "bf16"], default="f32",
                    help="the stored weights' dtype (the reference reads them back)")
    gn = sub.add_parser("generate", help="greedy continuation, recomputing the whole "
                                         "sequence each step (no cache), float64")
    gn.add_argument("--seed", type=int, default=1)
    gn.add_argument("--tokens", required=True)
    gn.add_argument("--steps", type=int, required=True)
    gn.add_argument("--out", required=True)
    gn.add_argument("--tied", action="store_true")
    gn.add_argument("--dtype", choices=["f32", "bf16"], default="f32")
    for p in (lg, gn):
        p.add_argument("--config", choices=CONFIGS,
                       help="a random model made by `make` with this config and --seed")
        p.add_argument("--checkpoint", metavar="DIR",
                       help="instead: a Hugging Face directory (config.json, model.safetensors)")
    a = ap.parse_args()
    if a.cmd != "make" and (a.config is None) == (a.checkpoint is None):
        ap.error("give one of --config and --checkpoint")
    if a.cmd != "make" and a.checkpoint:
        c, stored = read_checkpoint(a.checkpoint)
    else:
        c = config_dict(a.config)
        if a.tied:
            c["tie_word_embeddings"] = True
        w = weights(c, a.seed)
        # What the checkpoint stores (float32 or bfloat16), read back in float64.
        stored = {k: v.float() for k, v in w.items()}
        if a.dtype == "bf16":
            stored = {k: v.bfloat16().float() for k, v in stored.items()}
    if a.cmd == "make":
        write_checkpoint(c, stored, a.hf, a.dtype, a.shards)
    elif a.cmd == "generate":
        import greedy
        w64 = {k: v.double() for k, v in stored.items()}
        greedy.save(a.out, *greedy.greedy(lambda ids: logits(c, w64, ids),
                                          np.load(a.tokens), a.steps))
    else:
        tokens = np.load(a.tokens)
        out = logits(c, {k: v.double() for k, v in stored.items()}, tokens)
        np.save(a.out, out.astype(np.float32))


if __name__ == "__main__":
    main()
