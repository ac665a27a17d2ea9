"""A Llama written as Hugging Face transformers' LlamaForCausalLM forward
(eager attention), for testing rose's ONNX importer and --rose-raise on an
export nobody wrote for rose.

It is its own graph code, loaded with the weights llamaref makes for the same
--config/--seed, so llamaref's float64 logits are the reference:

  - RMSNorm as HF writes it: float32 cast, pow(2).mean(-1), rsqrt, weight *;
  - rotary embedding computed in forward from position ids
    (inv_freq[None, :, None] @ positions[:, None, :], cat(freqs, freqs), cos,
    sin, times attention_scaling), applied with rotate_half (Slice, Neg,
    Concat);
  - repeat_kv as expand + reshape for grouped-query attention;
  - an additive causal mask: full(min).triu(1) added to the scores;
  - scaling as `* head_dim ** -0.5`, softmax in float32, silu(gate) * up.

    python3 -m llamastyles make --config gqa --seed 1 --onnx a.onnx
    python3 -m llamastyles selfcheck
"""
import argparse
import sys
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import llamaref


class RMSNorm(nn.Module):
    def __init__(self, hidden, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden))
        self.variance_epsilon = eps

    def forward(self, hidden_states):
        input_dtype = hidden_states.dtype
        hidden_states = hidden_states.to(torch.float32)
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * hidden_states.to(input_dtype)


class RotaryEmbedding(nn.Module):
    def __init__(self, c, head_dim):
        super().__init__()
        self.register_buffer("inv_freq", llamaref.inv_freq(c, head_dim), persistent=False)
        self.attention_scaling = 1.0

    def forward(self, x, position_ids):
        inv_freq_expanded = self.inv_freq[None, :, None].float().expand(position_ids.shape[0], -1, 1)
        position_ids_expanded = position_ids[:, None, :].float()
        freqs = (inv_freq_expanded.float() @ position_ids_expanded.float()).transpose(1, 2)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos = emb.cos() * self.attention_scaling
        sin = emb.sin() * self.attention_scaling
        return cos.to(dtype=x.dtype), sin.to(dtype=x.dtype)


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary_pos_emb(q, k, cos, sin, unsqueeze_dim=1):
    cos = cos.unsqueeze(unsqueeze_dim)
    sin = sin.unsqueeze(unsqueeze_dim)
    q_embed = (q * cos) + (rotate_half(q) * sin)
    k_embed = (k * cos) + (rotate_half(k) * sin)
    return q_embed, k_embed


def repeat_kv(hidden_states, n_rep):
    batch, num_key_value_heads, slen, head_dim = hidden_states.shape
    if n_rep == 1:
        return hidden_states
    hidden_states = hidden_states[:, :, None, :, :].expand(batch, num_key_value_heads, n_rep,
                                                           slen, head_dim)
    return hidden_states.reshape(batch, num_key_value_heads * n_rep, slen, head_dim)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        h = c["hidden_size"]
        self.heads, self.kv_heads = c["num_attention_heads"], c["num_key_value_heads"]
        self.head_dim = h // self.heads
        self.num_key_value_groups = self.heads // self.kv_heads
        self.scaling = self.head_dim ** -0.5
        bias = c["model_type"] == "qwen2"
        self.q_proj = nn.Linear(h, self.heads * self.head_dim, bias=bias)
        self.k_proj = nn.Linear(h, self.kv_heads * self.head_dim, bias=bias)
        self.v_proj = nn.Linear(h, self.kv_heads * self.head_dim, bias=bias)
        self.o_proj = nn.Linear(self.heads * self.head_dim, h, bias=False)

    def forward(self, hidden_states, position_embeddings, attention_mask):
        input_shape = hidden_states.shape[:-1]
        hidden_shape = (*input_shape, -1, self.head_dim)
        query_states = self.q_proj(hidden_states).view(hidden_shape).transpose(1, 2)
        key_states = self.k_proj(hidden_states).view(hidden_shape).transpose(1, 2)
        value_states = self.v_proj(hidden_states).view(hidden_shape).transpose(1, 2)
        cos, sin = position_embeddings
        query_states, key_states = apply_rotary_pos_emb(query_states, key_states, cos, sin)
        key_states = repeat_kv(key_states, self.num_key_value_groups)
        value_states = repeat_kv(value_states, self.num_key_value_groups)
        attn_weights = torch.matmul(query_states, key_states.transpose(2, 3)) * self.scaling
        causal_mask = attention_mask[:, :, :, : key_states.shape[-2]]
        attn_weights = attn_weights + causal_mask
        attn_weights = F.softmax(attn_weights, dim=-1, dtype=torch.float32).to(query_states.dtype)
        attn_output = torch.matmul(attn_weights, value_states)
        attn_output = attn_output.transpose(1, 2).contiguous()
        attn_output = attn_output.reshape(*input_shape, -1).contiguous()
        return self.o_proj(attn_output)


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, inter = c["hidden_size"], c["intermediate_size"]
        self.gate_proj = nn.Linear(h, inter, bias=False)
        self.up_proj = nn.Linear(h, inter, bias=False)
        self.down_proj = nn.Linear(inter, h, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self_attn = Attention(c)
        self.mlp = MLP(c)
        self.input_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.post_attention_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])

    def forward(self, hidden_states, attention_mask, position_embeddings):
        residual = hidden_states
        hidden_states = self.input_layernorm(hidden_states)
        hidden_states = self.self_attn(hidden_states, position_embeddings, attention_mask)
        hidden_states = residual + hidden_states
        residual = hidden_states
        hidden_states = self.post_attention_layernorm(hidden_states)
        hidden_states = self.mlp(hidden_states)
        return residual + hidden_states


class Model(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList(DecoderLayer(c) for _ in range(c["num_hidden_layers"]))
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        head_dim = c["hidden_size"] // c["num_attention_heads"]
        self.rotary_emb = RotaryEmbedding(c, head_dim)

    def forward(self, input_ids):
        inputs_embeds = self.embed_tokens(input_ids)
        seq = inputs_embeds.shape[1]
        cache_position = torch.arange(0, seq, device=inputs_embeds.device)
        position_ids = cache_position.unsqueeze(0)
        # HF's eager causal mask: the dtype's minimum above the diagonal, added.
        min_dtype = torch.finfo(inputs_embeds.dtype).min
        causal_mask = torch.full((seq, seq), fill_value=min_dtype, dtype=inputs_embeds.dtype)
        causal_mask = torch.triu(causal_mask, diagonal=1)
        causal_mask = causal_mask[None, None, :, :].expand(inputs_embeds.shape[0], 1, -1, -1)
        hidden_states = inputs_embeds
        position_embeddings = self.rotary_emb(hidden_states, position_ids)
        for layer in self.layers:
            hidden_states = layer(hidden_states, causal_mask, position_embeddings)
        return self.norm(hidden_states)


class LlamaForCausalLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.model = Model(c)
        self.lm_head = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)
        if c["tie_word_embeddings"]:
            self.lm_head.weight = self.model.embed_tokens.weight

    def forward(self, input_ids):
        return self.lm_head(self.model(input_ids))


def make_model(c, seed):
    """The HF-style model with llamaref's weights (as stored: float32)."""
    w = {k: v.float() for k, v in llamaref.weights(c, seed).items()}
    model = LlamaForCausalLM(c).eval()
    if c["tie_word_embeddings"]:
        w["lm_head.weight"] = w["model.embed_tokens.weight"]
    model.load_state_dict(w, strict=True)
    return model


def export(model, path):
    ids = torch.zeros(2, 5, dtype=torch.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (ids,), path, input_names=["input_ids"],
                          output_names=["logits"], opset_version=17,
                          dynamic_axes={"input_ids": {0: "batch", 1: "seq"},
                                        "logits": {0: "batch", 1: "seq"}})


def selfcheck():
    """The module in float64 matches llamaref's functional forward. Not to
    the last bit: like HF, the module computes cos/sin in float32 (its
    `.float()` casts), llamaref in float64 from the same float32 angles."""
    tokens = np.random.default_rng(0).integers(0, 50, size=(2, 9))
    worst = 0.0
    for name in llamaref.CONFIGS:
        c = llamaref.config_dict(name)
        model = make_model(c, 1).double()
        with torch.no_grad():
            ours = model(torch.as_tensor(tokens)).numpy()
        w = {k: v.float().double() for k, v in llamaref.weights(c, 1).items()}
        ref = llamaref.logits(c, w, tokens)
        diff = float(np.abs(ours - ref).max())
        scale = float(np.abs(ref).max())
        worst = max(worst, diff / scale)
        print(f"{name}: max |diff| {diff:.2e} (max |logit| {scale:.1f})")
    if worst > 1e-6:
        sys.exit("llamastyles: selfcheck failed")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("--config", required=True, choices=llamaref.CONFIGS)
    m.add_argument("--seed", type=int, default=1)
    m.add_argument("--tied", action="store_true")
    m.add_argument("--onnx", required=True)
    sub.add_parser("selfcheck")
    a = ap.parse_args()
    if a.cmd == "selfcheck":
        return selfcheck()
    c = llamaref.config_dict(a.config)
    if a.tied:
        c["tie_word_embeddings"] = True
    export(make_model(c, a.seed), a.onnx)


if __name__ == "__main__":
    main()
