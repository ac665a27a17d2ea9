"""Checks rose's tokenizer.json pipeline for Llama-3-style byte-level BPE
(a Split regex then ByteLevel without its own regex, ignore_merges, and a
TemplateProcessing post-processor that prepends <|begin_of_text|>) against
an independent tokenizer on a real vocabulary.

    python3 tokenizer_check_llama3.py ROSE_TOKENIZE NODE_MODULES WORKDIR

NODE_MODULES holds the npm package js-tiktoken, whose cl100k_base ranks
(OpenAI's 100k vocabulary) use the same pre-tokenization as Llama-3. The
check converts the ranks into a tokenizer.json as Hugging Face's converter
writes Llama-3's (byte-level vocabulary; for every token, each split into
two tokens is a merge, ranked by the token's rank; Llama-3's `(?i:...)`
pattern, not js-tiktoken's spelled-out one), then requires that rose's ids
equal <|begin_of_text|> followed by js-tiktoken's ids for hard texts, and
that decoding gives back the text byte for byte."""
import base64
import json
import os
import subprocess
import sys

from tokenizer_check import TEXTS

# Llama-3's tokenizer.json pre_tokenizer pattern (meta-llama/Meta-Llama-3-8B).
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                  r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
BOS = "<|begin_of_text|>"
BOS_ID = 100300


def bytes_to_unicode():
    """GPT-2's printable alphabet for the 256 byte values."""
    printable = (list(range(ord("!"), ord("~") + 1)) + list(range(0xa1, 0xac + 1))
                 + list(range(0xae, 0xff + 1)))
    table, n = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + n)
            n += 1
    return table


def tiktoken(node_modules, texts):
    script = ("const {getEncoding}=require('js-tiktoken');"
              "const r=require('js-tiktoken/ranks/cl100k_base');const d=r.default||r;"
              "const e=getEncoding('cl100k_base');"
              "const texts=JSON.parse(require('fs').readFileSync(0,'utf8'));"
              "process.stdout.write(JSON.stringify({ranks:d.bpe_ranks,special:d.special_tokens,"
              "ids:texts.map(t=>e.encode(t))}));")
    r = subprocess.run(["node", "-e", script], input=json.dumps(texts), capture_output=True,
                       text=True, check=True, env=dict(os.environ, NODE_PATH=node_modules))
    return json.loads(r.stdout)


def write_tokenizer_json(path, ranks_text, special):
    ranks = {}
    for line in ranks_text.split("\n"):
        if not line:
            continue
        _, offset, *tokens = line.split(" ")
        for i, token in enumerate(tokens):
            ranks[base64.b64decode(token)] = int(offset) + i
    table = bytes_to_unicode()
    text = lambda b: "".join(table[x] for x in b)
    merges = []
    for token, rank in ranks.items():
        local = [(token[:i], token[i:], rank) for i in range(1, len(token))
                 if token[:i] in ranks and token[i:] in ranks]
        merges += sorted(local, key=lambda m: (ranks[m[0]], ranks[m[1]]))
    merges.sort(key=lambda m: m[2])
    added = [{"id": i, "content": c, "special": True} for c, i in special.items()]
    added.append({"id": BOS_ID, "content": BOS, "special": True})
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                  "use_regex": False}
    with open(path, "w") as f:
        json.dump({
            "version": "1.0", "added_tokens": added, "normalizer": None,
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": LLAMA3_PATTERN},
                 "behavior": "Isolated", "invert": False}, byte_level]},
            "post_processor": {"type": "Sequence", "processors": [
                dict(byte_level, trim_offsets=False),
                {"type": "TemplateProcessing",
                 "single": [{"SpecialToken": {"id": BOS, "type_id": 0}},
                            {"Sequence": {"id": "A", "type_id": 0}}],
                 "pair": [{"SpecialToken": {"id": BOS, "type_id": 0}},
                          {"Sequence": {"id": "A", "type_id": 0}},
                          {"SpecialToken": {"id": BOS, "type_id": 1}},
                          {"Sequence": {"id": "B", "type_id": 1}}],
                 "special_tokens": {BOS: {"id": BOS, "ids": [BOS_ID], "tokens": [BOS]}}}]},
            "decoder": byte_level,
            "model": {"type": "BPE", "dropout": None, "unk_token": None,
                      "continuing_subword_prefix": None, "end_of_word_suffix": None,
                      "fuse_unk": False, "byte_fallback": False, "ignore_merges": True,
                      "vocab": {text(t): r for t, r in ranks.items()},
                      "merges": [[text(a), text(b)] for a, b, _ in merges]}}, f)
    return len(ranks), len(merges)


def main():
    rose, node_modules, work = sys.argv[1:4]
    texts = TEXTS + ["numbers 1234567 12 123 1234", "it's IT'S It's", "tabs\t\tand\r\n\r\nreturns"]
    ref = tiktoken(node_modules, texts)
    d = os.path.join(work, "llama3")
    os.makedirs(d, exist_ok=True)
    vocab, merges = write_tokenizer_json(os.path.join(d, "tokenizer.json"), ref["ranks"],
                                         ref["special"])
    print(f"cl100k_base as a Llama-3-style tokenizer.json: {vocab} tokens, {merges} merges")
    failures = 0
    for text, ids in zip(texts, ref["ids"]):
        want = [BOS_ID] + ids
        r = subprocess.run([rose, d, text], capture_output=True, text=True)
        got = [int(t) for t in r.stdout.split()] if r.returncode == 0 else r.stderr
        if got != want:
            print(f"FAIL {text!r}: rose {got} vs js-tiktoken {want}")
            failures += 1
            continue
        back = subprocess.run([rose, d, "--decode", ",".join(map(str, want))],
                              capture_output=True)
        if back.returncode != 0 or back.stdout != (BOS + text).encode():
            print(f"FAIL decode of {text!r}: {back.stdout!r} {back.stderr!r}")
            failures += 1
    print(f"{len(texts)} texts: {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
