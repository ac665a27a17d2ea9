"""Writes a dense GPT-2 forward function in rose IR (text only, no weights),
the way rose-import emits it, for pass tests on large configs.

    python3 gpt2_ir.py --layers 12 --vocab 50257 --positions 1024 --d 768 --heads 12 --ff 3072
"""
import argparse


def block(i, d, heads, ff, x):
    t = lambda n: f"tensor<?x?x{n}xf32>"
    w = lambda n, s: f'rose.param "h.{i}.{n}" : tensor<{s}xf32>'
    p = f"b{i}_"
    return [
        f'  %{p}ln1w = {w("ln_1.weight", d)}',
        f'  %{p}ln1b = {w("ln_1.bias", d)}',
        f'  %{p}h1 = rose.layer_norm {x}, %{p}ln1w, %{p}ln1b : {t(d)}, tensor<{d}xf32>, tensor<{d}xf32> -> {t(d)}',
        f'  %{p}wqkv = {w("attn.c_attn.weight", f"{d}x{3 * d}")}',
        f'  %{p}bqkv = {w("attn.c_attn.bias", 3 * d)}',
        f'  %{p}qkv = rose.matmul %{p}h1, %{p}wqkv, %{p}bqkv : {t(d)}, tensor<{d}x{3 * d}xf32>, tensor<{3 * d}xf32> -> {t(3 * d)}',
        f'  %{p}s:3 = rose.split %{p}qkv axis 2 sizes [{d}, {d}, {d}] : {t(3 * d)} -> {t(d)}, {t(d)}, {t(d)}',
        f'  %{p}att = rose.attention %{p}s#0, %{p}s#1, %{p}s#2 heads {heads} causal : {t(d)}, {t(d)}, {t(d)} -> {t(d)}',
        f'  %{p}wo = {w("attn.c_proj.weight", f"{d}x{d}")}',
        f'  %{p}bo = {w("attn.c_proj.bias", d)}',
        f'  %{p}o = rose.matmul %{p}att, %{p}wo, %{p}bo : {t(d)}, tensor<{d}x{d}xf32>, tensor<{d}xf32> -> {t(d)}',
        f'  %{p}r1 = rose.add {x}, %{p}o : {t(d)}, {t(d)} -> {t(d)}',
        f'  %{p}ln2w = {w("ln_2.weight", d)}',
        f'  %{p}ln2b = {w("ln_2.bias", d)}',
        f'  %{p}h2 = rose.layer_norm %{p}r1, %{p}ln2w, %{p}ln2b : {t(d)}, tensor<{d}xf32>, tensor<{d}xf32> -> {t(d)}',
        f'  %{p}wfc = {w("mlp.c_fc.weight", f"{d}x{ff}")}',
        f'  %{p}bfc = {w("mlp.c_fc.bias", ff)}',
        f'  %{p}fc = rose.matmul %{p}h2, %{p}wfc, %{p}bfc : {t(d)}, tensor<{d}x{ff}xf32>, tensor<{ff}xf32> -> {t(ff)}',
        f'  %{p}g = rose.gelu %{p}fc tanh : {t(ff)} -> {t(ff)}',
        f'  %{p}wpr = {w("mlp.c_proj.weight", f"{ff}x{d}")}',
        f'  %{p}bpr = {w("mlp.c_proj.bias", d)}',
        f'  %{p}pr = rose.matmul %{p}g, %{p}wpr, %{p}bpr : {t(ff)}, tensor<{ff}x{d}xf32>, tensor<{d}xf32> -> {t(d)}',
        f'  %{p}out = rose.add %{p}r1, %{p}pr : {t(d)}, {t(d)} -> {t(d)}',
    ], f"%{p}out"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--vocab", type=int, default=50257)
    p.add_argument("--positions", type=int, default=1024)
    p.add_argument("--d", type=int, default=768)
    p.add_argument("--heads", type=int, default=12)
    p.add_argument("--ff", type=int, default=3072)
    a = p.parse_args()
    V, d = a.vocab, a.d
    T = lambda n: f"tensor<?x?x{n}xf32>"
    lines = [
        f'  %wte = rose.param "wte.weight" : tensor<{V}x{d}xf32>',
        f'  %wpe = rose.param "wpe.weight" : tensor<{a.positions}x{d}xf32>',
        f'  %tok = rose.embedding %wte[%ids] : tensor<{V}x{d}xf32>, tensor<?x?xi64> -> {T(d)}',
        f'  %pos = rose.positions %ids : tensor<?x?xi64> -> tensor<?x?xi64>',
        f'  %pemb = rose.embedding %wpe[%pos] : tensor<{a.positions}x{d}xf32>, tensor<?x?xi64> -> {T(d)}',
        f'  %x0 = rose.add %tok, %pemb : {T(d)}, {T(d)} -> {T(d)}',
    ]
    x = "%x0"
    for i in range(a.layers):
        body, x = block(i, d, a.heads, a.ff, x)
        lines += body
    lines += [
        f'  %lnfw = rose.param "ln_f.weight" : tensor<{d}xf32>',
        f'  %lnfb = rose.param "ln_f.bias" : tensor<{d}xf32>',
        f'  %hf = rose.layer_norm {x}, %lnfw, %lnfb : {T(d)}, tensor<{d}xf32>, tensor<{d}xf32> -> {T(d)}',
        f'  %logits = rose.matmul %hf, %wte {{transpose_rhs}} : {T(d)}, tensor<{V}x{d}xf32> -> {T(V)}',
    ]
    print(f"func.func @forward(%ids: tensor<?x?xi64>) -> {T(V)} {{")
    print("\n".join(lines))
    print(f"  return %logits : {T(V)}\n}}")


if __name__ == "__main__":
    main()
