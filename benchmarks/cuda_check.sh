#!/usr/bin/env bash
# Every CUDA measurement collapse_sim has, in one prepared run on one GPU (about 8 minutes on an
# H100-class GPU): the CUDA tests, the YOLO training core on CUDA, detection chains sharing one GPU,
# the text family's decoder, the image family's diffusion models and MAD at 28 x 28. Each benchmark's JSON line is
# printed, for benchmarks/README.md.
#
#   bash benchmarks/cuda_check.sh            # each step has its own time limit: 11.5 minutes in all
#
# Without a CUDA device it stops at once with exit 2, having run nothing.
set -uo pipefail
cd "$(dirname "$0")/.."
if ! python -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  echo "cuda_check: torch sees no CUDA device (torch.cuda.is_available() is False), so there is" \
       "nothing to measure; run it on a machine with an NVIDIA GPU and a CUDA build of torch" >&2
  exit 2
fi
python -c "import torch; p = torch.cuda.get_device_properties(0); print(f'device: {p.name}, {p.total_memory / 2**30:.0f} GiB, torch {torch.__version__}')"
status=0
step() {  # step NAME SECONDS COMMAND...: run it under its time limit, print its last line (the JSON)
  local name="$1" limit="$2"; shift 2
  echo "== $name" >&2
  local out
  if out="$(timeout "$limit" "$@" 2>/tmp/cuda_check_$name.log)"; then
    echo "$out" | tail -n 1
  else
    echo "{\"step\": \"$name\", \"failed\": true, \"log\": \"/tmp/cuda_check_$name.log\"}"
    tail -n 5 "/tmp/cuda_check_$name.log" >&2
    status=1
  fi
}
step tests 90 python -m pytest -q -p no:cacheprovider -n 0 -m cuda tests
step train_core 180 python benchmarks/train_core.py --device cuda --imgsz 64 128 --seeds 2
step chains 150 python benchmarks/chains.py --device cuda --chains 4
step text_core 60 python benchmarks/text_core.py --device cuda
step image_core 60 python benchmarks/image_core.py --device cuda
# Shumailov's protocol with a transformers model at debug size (the paper's OPT-125m run is in the header of
# conf/experiment/shumailov.yaml): its last line is the run's report.
step shumailov_hf 150 python -m collapse_sim +experiment=shumailov trainer=hf_causal_lm trainer.device=cuda \
  +debug=default plots=false hydra.run.dir=/tmp/cuda_check_shumailov_hf
# +experiment=mad_fashion at 28 x 28 on 5,000 images, two generations (the paper's size is in its header).
step mad_fashion 150 python -m collapse_sim +experiment=mad_fashion source.downsample=1 n_samples=5000 \
  trainer.width=64 trainer.iterations=2000 trainer.batch=256 trainer.device=cuda generations=2 replicates=1 \
  plots=false hydra.run.dir=/tmp/cuda_check_mad_fashion
exit $status
