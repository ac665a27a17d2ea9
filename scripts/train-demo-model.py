"""Trains rose's demo model: a small Llama (grouped-query attention, rotary
positions, SwiGLU, tied embeddings) on the public-domain fortunes of Debian's
`fortunes` package, with a sentencepiece BPE vocabulary trained by Debian's
`spm_train`, on the CPU with Debian's PyTorch. Writes a Hugging Face
directory that rose-compile reads as it is:

    config.json, model.safetensors (bfloat16), tokenizer.model,
    generation_config.json, training.json (what training measured),
    heldout.npy (int64 windows of held-out fortunes, never trained on)

    /usr/bin/python3 scripts/train-demo-model.py --out models/fortunes-llama

Every 40th fortune is held out. training.json records the mean next-token
cross entropy of the saved bfloat16 weights on heldout.npy, computed here in
float32; test/E2E/demo-model.test checks that rose-run --loss reproduces it.
The model is written from the architecture, independently of rose and of
test/lib/llamaref.py."""
import argparse
import ctypes
import glob
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time

# Before torch starts OpenMP: idle threads sleep instead of spinning (with two
# cores, spinning steals the other thread's time).
os.environ.setdefault("OMP_WAIT_POLICY", "passive")
import numpy as np
import torch
import torch.nn.functional as F

# The safetensors writer the test references use (test/lib/gpt2ref.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "lib"))
import gpt2ref  # noqa: E402

FORTUNES = "/usr/share/games/fortunes"
# Files left out: pictures made of characters, and text in other languages.
SKIP = {"ascii-art", "translate-me"}

CONFIG = {
    "model_type": "llama", "architectures": ["LlamaForCausalLM"],
    "hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 8,
    "num_key_value_heads": 4, "intermediate_size": 768, "vocab_size": 4096,
    "max_position_embeddings": 256, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
    "hidden_act": "silu", "tie_word_embeddings": True,
    "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "bfloat16",
}


def fortunes():
    """Each fortune on one line, whitespace runs collapsed: the model learns
    prose, and a line is one sentencepiece training sentence."""
    docs = []
    for path in sorted(glob.glob(os.path.join(FORTUNES, "*"))):
        name = os.path.basename(path)
        if "." in name or name in SKIP or not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        for doc in text.split("\n%\n"):
            doc = " ".join(doc.split())
            if doc and doc != "%":
                docs.append(doc)
    if not docs:
        sys.exit(f"train-demo-model: no fortunes under {FORTUNES}; "
                 "install Debian's 'fortunes' package")
    return docs


def train_tokenizer(train_docs, prefix, vocab):
    """A Llama-2-style sentencepiece BPE model: unk 0, bos 1, eos 2, byte
    fallback, no normalisation, digits split."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(train_docs) + "\n")
        corpus = f.name
    try:
        subprocess.run(
            ["spm_train", f"--input={corpus}", f"--model_prefix={prefix}",
             "--model_type=bpe", f"--vocab_size={vocab}", "--byte_fallback=true",
             "--character_coverage=0.9995", "--normalization_rule_name=identity",
             "--remove_extra_whitespaces=false", "--split_digits=true",
             "--allow_whitespace_only_pieces=true", "--max_sentence_length=16384",
             "--num_threads=2", "--minloglevel=2", "--random_seed=1"],
            check=True)
    finally:
        os.unlink(corpus)
    os.unlink(prefix + ".vocab")


def encode(model, docs):
    """Token ids of each doc with spm_encode (as Hugging Face's
    LlamaTokenizer would, BOS and EOS added here)."""
    r = subprocess.run(["spm_encode", f"--model={model}", "--output_format=id"],
                       input="\n".join(docs) + "\n", capture_output=True, text=True,
                       check=True)
    lines = r.stdout.split("\n")[:len(docs)]
    return [[1] + [int(t) for t in line.split()] + [2] for line in lines]


def stream(encoded):
    return np.array([t for doc in encoded for t in doc], dtype=np.int64)


class Llama(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        h, self.heads, self.kv = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
        self.hd, inter, self.eps = h // self.heads, c["intermediate_size"], c["rms_norm_eps"]
        self.embed = torch.nn.Embedding(c["vocab_size"], h)
        lin = lambda i, o: torch.nn.Linear(i, o, bias=False)
        self.layers = torch.nn.ModuleList()
        for _ in range(c["num_hidden_layers"]):
            m = torch.nn.Module()
            m.q, m.k, m.v, m.o = (lin(h, self.heads * self.hd), lin(h, self.kv * self.hd),
                                  lin(h, self.kv * self.hd), lin(self.heads * self.hd, h))
            m.gate, m.up, m.down = lin(h, inter), lin(h, inter), lin(inter, h)
            m.ln1, m.ln2 = torch.nn.Parameter(torch.ones(h)), torch.nn.Parameter(torch.ones(h))
            self.layers.append(m)
        self.norm = torch.nn.Parameter(torch.ones(h))
        inv = 1.0 / (c["rope_theta"] ** (torch.arange(0, self.hd, 2).float() / self.hd))
        self.register_buffer("inv_freq", inv, persistent=False)
        for p in self.parameters():
            if p.dim() == 2:
                torch.nn.init.normal_(p, std=0.02)
        for m in self.layers:  # GPT-2's scaled init of the residual projections
            for p in (m.o.weight, m.down.weight):
                torch.nn.init.normal_(p, std=0.02 / math.sqrt(2 * len(self.layers)))

    def rms(self, x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * w

    def forward(self, ids):
        b, s = ids.shape
        x = self.embed(ids)
        ang = torch.outer(torch.arange(s, dtype=torch.float32), self.inv_freq)
        ang = torch.cat([ang, ang], dim=-1)
        cos, sin = ang.cos(), ang.sin()

        def rope(t):  # Hugging Face's rotate_half convention
            t1, t2 = t[..., :self.hd // 2], t[..., self.hd // 2:]
            return t * cos + torch.cat([-t2, t1], dim=-1) * sin

        mask = torch.full((s, s), float("-inf")).triu(1)
        for m in self.layers:
            y = self.rms(x, m.ln1)
            q = rope(m.q(y).view(b, s, self.heads, self.hd).transpose(1, 2))
            k = rope(m.k(y).view(b, s, self.kv, self.hd).transpose(1, 2))
            v = m.v(y).view(b, s, self.kv, self.hd).transpose(1, 2)
            rep = self.heads // self.kv
            k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
            a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.hd) + mask, dim=-1)
            x = x + m.o((a @ v).transpose(1, 2).reshape(b, s, -1))
            y = self.rms(x, m.ln2)
            x = x + m.down(F.silu(m.gate(y)) * m.up(y))
        return self.rms(x, self.norm) @ self.embed.weight.T

    def hf_weights(self):
        w = {"model.embed_tokens.weight": self.embed.weight, "model.norm.weight": self.norm}
        for i, m in enumerate(self.layers):
            p = f"model.layers.{i}."
            w.update({p + "self_attn.q_proj.weight": m.q.weight, p + "self_attn.k_proj.weight": m.k.weight,
                      p + "self_attn.v_proj.weight": m.v.weight, p + "self_attn.o_proj.weight": m.o.weight,
                      p + "mlp.gate_proj.weight": m.gate.weight, p + "mlp.up_proj.weight": m.up.weight,
                      p + "mlp.down_proj.weight": m.down.weight,
                      p + "input_layernorm.weight": m.ln1, p + "post_attention_layernorm.weight": m.ln2})
        return w


def loss_of(model, ids):
    """Mean cross entropy of predicting ids[:, t + 1] from ids[:, :t + 1]."""
    logits = model(ids[:, :-1] if ids.shape[1] > 1 else ids)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))


def bf16_bits(t):
    """A tensor as bfloat16 bits (round to nearest even, as torch converts),
    the uint16 form gpt2ref.write_safetensors stores as BF16."""
    return t.detach().to(torch.bfloat16).contiguous().view(torch.int16).numpy().view(np.uint16)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    # glibc returns each step's large activations to the kernel and faults
    # them back in on the next step: keep them (halves the step time here).
    libc = ctypes.CDLL("libc.so.6")
    libc.mallopt(-3, 1 << 30)  # M_MMAP_THRESHOLD
    libc.mallopt(-1, 2**31 - 1)  # M_TRIM_THRESHOLD
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    c = dict(CONFIG)

    docs = fortunes()
    held = [d for i, d in enumerate(docs) if i % 40 == 0]
    train = [d for i, d in enumerate(docs) if i % 40 != 0]
    spm = os.path.join(a.out, "tokenizer")
    train_tokenizer(train, spm, c["vocab_size"])
    os.replace(spm + ".model", os.path.join(a.out, "tokenizer.model"))
    model_file = os.path.join(a.out, "tokenizer.model")
    train_ids, held_ids = stream(encode(model_file, train)), stream(encode(model_file, held))
    print(f"{len(train)} fortunes for training ({len(train_ids)} tokens), "
          f"{len(held)} held out ({len(held_ids)} tokens)", flush=True)

    # Held-out windows of seq tokens, as many as the held-out text fills (at most 16).
    n = min(16, len(held_ids) // a.seq)
    heldout = torch.from_numpy(held_ids[:n * a.seq].reshape(n, a.seq))

    model = Llama(c)
    params = sum(p.numel() for p in model.parameters())
    print(f"{params / 1e6:.2f}M parameters", flush=True)
    decay = [p for p in model.parameters() if p.dim() == 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": rest, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95))
    rng = random.Random(a.seed)
    warm = max(1, a.steps // 20)
    start, smooth = time.time(), None
    for step in range(a.steps):
        lr = a.lr * min(1.0, (step + 1) / warm) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / a.steps)))
        for g in opt.param_groups:
            g["lr"] = lr
        starts = [rng.randrange(len(train_ids) - a.seq - 1) for _ in range(a.batch)]
        batch = torch.from_numpy(np.stack([train_ids[s:s + a.seq + 1] for s in starts]))
        loss = loss_of(model, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        smooth = loss.item() if smooth is None else 0.98 * smooth + 0.02 * loss.item()
        if step % 100 == 0 or step == a.steps - 1:
            print(f"step {step:5d}  loss {smooth:.3f}  lr {lr:.2e}  {time.time() - start:.0f} s",
                  flush=True)
    seconds = time.time() - start

    # What is saved is bfloat16: measure the held-out loss of exactly that.
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(torch.bfloat16).float())
        held_loss = loss_of(model, heldout).item()
    print(f"held-out loss of the bfloat16 weights: {held_loss:.4f} "
          f"(perplexity {math.exp(held_loss):.1f})", flush=True)

    gpt2ref.write_safetensors(os.path.join(a.out, "model.safetensors"),
                              {k: bf16_bits(v) for k, v in model.hf_weights().items()})
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(c, f, indent=1)
    with open(os.path.join(a.out, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": 1, "eos_token_id": 2}, f, indent=1)
    np.save(os.path.join(a.out, "heldout.npy"), heldout.numpy())
    with open(os.path.join(a.out, "training.json"), "w") as f:
        json.dump({"heldout_loss": held_loss, "heldout": "heldout.npy",
                   "heldout_fortunes": len(held), "train_fortunes": len(train),
                   "train_tokens": int(len(train_ids)), "parameters": params,
                   "steps": a.steps, "batch": a.batch, "seq": a.seq, "lr": a.lr,
                   "seed": a.seed, "final_train_loss": smooth, "seconds": round(seconds),
                   "threads": a.threads, "torch": torch.__version__}, f, indent=1)
    print(f"wrote {a.out} in {seconds:.0f} s of training")


if __name__ == "__main__":
    main()
