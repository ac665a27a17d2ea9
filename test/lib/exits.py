"""Runs a command and succeeds only if it exits with the given status: the
error contract says exit status 1, where lit's `not` accepts any failure
(a crash included).

    python3 exits.py STATUS CMD [ARGS...]
"""
import subprocess
import sys

want = int(sys.argv[1])
got = subprocess.run(sys.argv[2:]).returncode
if got != want:
    sys.stderr.write(f"exits.py: {sys.argv[2]} exited with {got}, expected {want}\n")
    sys.exit(1)
