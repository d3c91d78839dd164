#!/usr/bin/env bash
# Every GPU check lecnn needs, as one script, for whoever is lent a GPU (H100/H200): ≤ 8 minutes
# (the steps' limits add up to 480 s).
# Run from the project root on the GPU machine, with the MNIST files in .data/mnist (copy
# ../shared/data/mnist there and name .data in the device tool's carry) or in $LECNN_DATA:
#
#     bash scripts/gpu_check.sh            # writes runs/bench/*-cuda-<gpu>.txt
#
# 1. the tests with CUDA present (the ones that skip on a CPU machine run here), 2. the training
# benchmarks on cuda: the fast recipe, the default run, the per-example protocols (eager,
# compiled = CUDA graph), 3. the CPU side of the same host for comparison (--jobs on 16 cores).
# Each step has its own time limit so one slow step cannot eat the others; the outputs come back
# under runs/bench/ (commit them).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export LECNN_DATA="${LECNN_DATA:-$PWD/.data/mnist}"
if [ ! -f "$LECNN_DATA/SHA256SUMS" ]; then
  echo "gpu_check: no MNIST at $LECNN_DATA (copy ../shared/data/mnist to .data/mnist)" >&2
  exit 2
fi
python -c "import torch; assert torch.cuda.is_available(), 'no CUDA here'" || exit 2
gpu="$(python -c 'import torch; print(torch.cuda.get_device_name(0).split()[1].lower())')"
out=runs/bench
mkdir -p "$out"
step() {  # step SECONDS FILE COMMAND...: run with a time limit, output to FILE and the screen
  local limit=$1 file=$2; shift 2
  echo "== $* (limit ${limit}s) -> $file"
  { echo "# $*"; echo "# $(date -u +%FT%TZ) $(python -c 'import torch; print(torch.cuda.get_device_name(0), torch.__version__)')"
    timeout "$limit" "$@"; echo "# exit $?"; } 2>&1 | tee "$file"
}
# the CUDA tests first: every test that skips without a GPU, and the suites that hold CUDA; in one
# process (-o addopts: the GPU machine may lack pytest-xdist, and one GPU is shared anyway)
step 140 "$out/tests-cuda-$gpu.txt" python -m pytest -q -o addopts=-ra -p no:cacheprovider -x \
  tests/test_cuda.py tests/test_layers.py tests/test_networks.py tests/test_compiled.py \
  tests/test_training.py tests/test_generators.py tests/test_functional.py tests/test_grouped.py
# eager and as CUDA graphs (chunks of 32 batches): which one --compile auto should take on CUDA
# for short batched runs is not measured yet (auto graphs CUDA runs of 2,000 updates or more)
step 90 "$out/bench_train-cuda-recipe-$gpu.txt" python scripts/bench_train.py --devices cuda \
  --recipe fast --seeds 5 --compile off,on
step 60 "$out/bench_train-cuda-default-$gpu.txt" python scripts/bench_train.py --devices cuda \
  --models lenet5-modern --impls autograd,manual --compile off,on
step 80 "$out/bench_train-cuda-per-example-$gpu.txt" python scripts/bench_train.py --devices cuda \
  --models lecun1989,lenet5 --impls autograd,manual --compile off,on --limit 6000
step 50 "$out/bench_grouped-cuda-$gpu.txt" python scripts/bench_grouped.py --device cuda \
  --sizes 1,10,32 --limit 500 --batched lenet5-modern:256 --batched-limit 5120
step 60 "$out/bench_jobs-cuda-host-$gpu.txt" python scripts/bench_jobs.py --seeds 2 \
  --one-thread-serial-only
echo "gpu_check: done; outputs in $out/*-$gpu.txt"
