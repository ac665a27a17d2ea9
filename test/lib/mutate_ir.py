"""Deliberately breaks sharded rose IR, for the canaries: the numeric checks
must FAIL on the result, proving they can see a sharding bug.

    python3 mutate_ir.py IN.mlir OUT.mlir drop-all-reduce|qkv-groups-1

drop-all-reduce  the first rose.all_reduce is removed and its users read its
                 (partial-sum) operand instead
qkv-groups-1     fused QKV weights are sliced contiguously (groups = 1) instead
                 of per q/k/v group: ranks get the wrong heads
"""
import re
import sys


def drop_all_reduce(text):
    m = re.search(r"^\s*(%[\w#]+) = rose\.all_reduce (%[\w#]+)[^\n]*\n", text, re.M)
    if not m:
        sys.exit("mutate_ir: no rose.all_reduce to drop")
    result, operand = m.group(1), m.group(2)
    rest = re.sub(re.escape(result) + r"(?![\w#])", operand, text[m.end():])
    return text[:m.start()] + rest


def qkv_groups_1(text):
    out, n = re.subn(r"groups = 3", "groups = 1", text)
    if n == 0:
        sys.exit("mutate_ir: no groups = 3 slice to change")
    return out


MUTATIONS = {"drop-all-reduce": drop_all_reduce, "qkv-groups-1": qkv_groups_1}


def main():
    if len(sys.argv) != 4 or sys.argv[3] not in MUTATIONS:
        sys.exit(__doc__)
    text = open(sys.argv[1]).read()
    with open(sys.argv[2], "w") as f:
        f.write(MUTATIONS[sys.argv[3]](text))


if __name__ == "__main__":
    main()
