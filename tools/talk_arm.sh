#!/usr/bin/env bash
# One measurement arm of ppfom-talk64's training (docs/dev/talk_model_plan.md, "Measurements"):
# ITERS iterations from the shipped weights with extra config overrides, then the two numbers the
# selection rule reads: the validation reconstruction ratio (L1 / static, logged by the run at
# ITERS) and the tuning-pair score (median over the six tuning pairs of
# (1 - r mouth) + (1 - r eyes) + (1 - r roll), dlib judge, 90 frames).
#
#   tools/talk_arm.sh NAME ITERS [-o key=value ...]
#   tools/talk_arm.sh shipped 0       # ITERS 0: only score INIT
#   tools/talk_arm.sh control 250
#   tools/talk_arm.sh gan 250 -o model.train_params.loss_weights.generator_gan=1
#   CONFIG=talk128.yaml LANDMARKS=landmarks128 INIT=grown.pdparams tools/talk_arm.sh t128 200
#
# An arm that changes the architecture or the frame size needs its own CONFIG (the tuning pairs
# are scored with it: the networks run at its dataset frame shape) rather than -o overrides.
# Needs tools/prepare_talk_data.sh's data. Resumes an interrupted arm (RUN/arms/NAME).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN="${RUN:-${PPFOM_RUNS:-$REPO/output/runs}/talk}"
INIT="${INIT:-$REPO/ppfom/weights/ppfom_talk64.pdparams}"
PYTHON="${PYTHON:-python}"
NAME=$1; ITERS=$2; shift 2
OUT="$RUN/arms/$NAME"
mkdir -p "$OUT"
CONFIG="${CONFIG:-$REPO/configs/firstorder_talk.yaml}"
LANDMARKS="${LANDMARKS:-landmarks64}"
ARGS=(-c "$CONFIG" -o "dataset.train.dataroot=$RUN/ds" "dataset.test.dataroot=$RUN/ds"
      "dataset.train.landmarks_dir=$RUN/$LANDMARKS" "dataset.test.landmarks_dir=$RUN/$LANDMARKS"
      "total_iters=$ITERS" "validate.interval=$ITERS" "snapshot_config.interval_iters=$ITERS")
if [[ -f "$OUT/checkpoint_last.pdparams" ]]; then
  ARGS+=(--resume "$OUT/checkpoint_last.pdparams")
else
  ARGS+=(--output-dir "$OUT" --load "$INIT")
fi
cd "$REPO"
if [[ $ITERS == 0 ]]; then     # ITERS 0: score INIT itself
  WEIGHTS="$INIT"
else
  "$PYTHON" tools/main.py "${ARGS[@]}" "$@"
  WEIGHTS="$(printf '%s/weights_iter_%07d.pdparams' "$OUT" "$ITERS")"
fi
DATA="${PPFOM_SHARED:-$REPO/../shared}/data"
PAIRS=(lp_s6.jpg:fomdemo_2.mp4 paddlegan_fom_source.png:lp_d5.mp4 vtoonify_yRpe13BHdKw.jpg:lp_d12.mp4
       lp_s0.jpg:lp_d14.mp4 sadtalker_art_11.png:styletalk_andrew_clip_1.mp4
       vtoonify_ILip77SbmOE.jpg:retalking_1.mp4)
[[ -f "$OUT/tuning/scores.json" ]] || "$PYTHON" tools/evaluate_animation.py --data_dir "$DATA" \
  --pairs "${PAIRS[@]}" --max_frames 90 --weight_path "$WEIGHTS" --config "$CONFIG" \
  --output "$OUT/tuning"
"$PYTHON" - "$OUT" <<'PY'
import json, os, sys, numpy as np
out = sys.argv[1]
pairs = json.load(open(os.path.join(out, 'tuning', 'scores.json')))['pairs']
sig = lambda p, n: p['model']['signals'][n]['r']
score = np.median([3 - sig(p, 'mouth') - sig(p, 'eyes') - sig(p, 'roll') for p in pairs])
med = {n: np.median([sig(p, n) for p in pairs]) for n in ('mouth', 'eyes', 'roll')}
amp = np.median([p['model']['signals']['mouth']['amplitude_ratio'] for p in pairs])
print(f'{os.path.basename(out)}: score {score:.3f}, r mouth {med["mouth"]:.2f}, eyes '
      f'{med["eyes"]:.2f}, roll {med["roll"]:.2f}, mouth amplitude {amp:.2f}')
PY
[[ ! -f "$OUT/log.txt" ]] || grep -h "validation" "$OUT/log.txt" | tail -2
