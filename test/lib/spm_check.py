"""Checks rose-tokenize's sentencepiece path against Debian's own tools.

    python3 spm_check.py ROSE_TOKENIZE TEXT_FILE WORKDIR

Trains a small BPE model with byte fallback on TEXT_FILE (spm_train, one
thread), then encodes hard texts with spm_encode --output_format=id and with
rose-tokenize (tokenizer_config.json: add_bos_token false, so both give the
bare ids), requires the same ids and that rose decodes them to what
spm_decode gives; then that the default (no config) prepends BOS."""
import os
import subprocess
import sys

TEXTS = [
    "Hello, my name is",
    "  leading spaces",
    "trailing spaces   ",
    "repeated    inner     spaces",
    "digits 1234567890 3.14159",
    "punctuation!!! ??? ... ((()))",
    "contractions: it's you're we've",
    "accents: naïve café résumé",
    "CJK: 日本語のテキスト 中文文本",
    "emoji: 😀🎉👍🏽",
    "a",
]


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, check=True, **kw).stdout


def main():
    rose, text_file, work = sys.argv[1:4]
    model_dir = os.path.join(work, "model")
    os.makedirs(model_dir, exist_ok=True)
    prefix = os.path.join(model_dir, "tokenizer")
    run(["spm_train", f"--input={text_file}", f"--model_prefix={prefix}", "--vocab_size=600",
         "--model_type=bpe", "--byte_fallback=true", "--character_coverage=1.0",
         "--num_threads=1", "--minloglevel=2"])
    with open(os.path.join(model_dir, "tokenizer_config.json"), "w") as f:
        f.write('{"add_bos_token": false}')
    failures = 0
    for text in TEXTS:
        want = [int(t) for t in run(["spm_encode", f"--model={prefix}.model",
                                     "--output_format=id"], input=text + "\n").split()]
        r = subprocess.run([rose, model_dir, text], capture_output=True, text=True)
        got = [int(t) for t in r.stdout.split()] if r.returncode == 0 else r.stderr
        if got != want:
            print(f"FAIL {text!r}: rose {got} vs spm_encode {want}")
            failures += 1
            continue
        spm_text = run(["spm_decode", f"--model={prefix}.model", "--input_format=id"],
                       input=" ".join(map(str, want)) + "\n").rstrip("\n")
        back = subprocess.run([rose, model_dir, "--decode", ",".join(map(str, want))],
                              capture_output=True, text=True)
        if back.returncode != 0 or back.stdout != spm_text:
            print(f"FAIL decode of {text!r}: rose {back.stdout!r} vs spm_decode {spm_text!r}")
            failures += 1
    # Without the config, BOS (id 1 in sentencepiece's defaults) comes first.
    os.remove(os.path.join(model_dir, "tokenizer_config.json"))
    first = run([rose, model_dir, "Hello"]).split()[0]
    if first != "1":
        print(f"FAIL default BOS: first id {first}")
        failures += 1
    print(f"{len(TEXTS)} texts: {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
