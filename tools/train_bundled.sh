#!/usr/bin/env bash
# Start or resume the training run of ppfom's bundled model (configs/firstorder_bundled.yaml).
#
#   tools/train_bundled.sh                       # start, or resume from RUN/checkpoint_last.pdparams
#   MAX_MINUTES=150 tools/train_bundled.sh       # stop (with a checkpoint) after 150 minutes
#   tools/train_bundled.sh -o total_iters=5000   # extra -o overrides / main.py flags
#   INIT=ppfom/weights/ppfom_face64.pdparams tools/train_bundled.sh   # a new run from weights
#
# SETUP_ONLY=1 only builds the data folders (the clips' symlinks; no landmarks, no training).
# RUN (default $PPFOM_RUNS/bundled, PPFOM_RUNS defaulting to output/runs in the repository, which
# git ignores) holds the run: checkpoints, logs, data/ and landmarks/. Its data/train and
# data/test folders are symlinks to the clips listed in the config (VIDEOS, default
# ../shared/data/videos); the clips are never copied into the repository. On MAX_MINUTES the run
# gets SIGINT, which saves a full checkpoint; the next call resumes from it.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PPFOM_RUNS="${PPFOM_RUNS:-$REPO/output/runs}"
RUN="${RUN:-$PPFOM_RUNS/bundled}"
VIDEOS="${VIDEOS:-$REPO/../shared/data/videos}"
CONFIG="${CONFIG:-$REPO/configs/firstorder_bundled.yaml}"
MAX_MINUTES="${MAX_MINUTES:-0}"
PYTHON="${PYTHON:-python}"

VIDEOS="$(cd "$VIDEOS" && pwd)"
mkdir -p "$RUN"
"$PYTHON" - "$CONFIG" "$VIDEOS" "$RUN/data" <<'PY'
import os, sys, yaml
config, videos, data = sys.argv[1:]
cfg = yaml.safe_load(open(config))
lists = {split: cfg['dataset'][split]['videos'] for split in ('train', 'test')}
overlap = set(lists['train']) & set(lists['test'])
if overlap:
    sys.exit(f'error: {sorted(overlap)} are in both the train and the test list of {config}')
for split, names in lists.items():
    folder = os.path.join(data, split)
    os.makedirs(folder, exist_ok=True)
    for entry in os.listdir(folder):           # drop links no longer listed
        if entry not in names and os.path.islink(os.path.join(folder, entry)):
            os.remove(os.path.join(folder, entry))
    for name in names:
        src, dst = os.path.join(videos, name), os.path.join(folder, name)
        if not os.path.exists(src):
            sys.exit(f'error: {src} (listed in {config} dataset.{split}.videos) does not exist')
        if os.path.islink(dst) and os.readlink(dst) != src:
            os.remove(dst)
        if not os.path.lexists(dst):
            os.symlink(src, dst)
print(f"{data}: {len(lists['train'])} train, {len(lists['test'])} held-out clips (symlinks)")
PY
[[ "${SETUP_ONLY:-0}" == 1 ]] && exit 0
# face anchors of the training clips for the keypoint prior (existing files are kept)
"$PYTHON" "$REPO/tools/make_landmarks.py" --dataroot "$RUN/data" --out "$RUN/landmarks"

ARGS=(-c "$CONFIG" -o "dataset.train.dataroot=$RUN/data" "dataset.test.dataroot=$RUN/data"
      "dataset.train.landmarks_dir=$RUN/landmarks")
if [[ -f "$RUN/checkpoint_last.pdparams" ]]; then
  ARGS+=(--resume "$RUN/checkpoint_last.pdparams")
  echo "resuming from $RUN/checkpoint_last.pdparams"
else
  ARGS+=(--output-dir "$RUN")
  [[ -n "${INIT:-}" ]] && ARGS+=(--load "$INIT")
  echo "starting a new run in $RUN${INIT:+ from $INIT}"
fi
cd "$REPO"
if [[ "$MAX_MINUTES" != 0 ]]; then
  exec timeout --signal=INT --kill-after=10m "${MAX_MINUTES}m" "$PYTHON" tools/main.py "${ARGS[@]}" "$@"
fi
exec "$PYTHON" tools/main.py "${ARGS[@]}" "$@"
