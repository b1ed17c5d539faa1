#!/usr/bin/env bash
# Build the data of ppfom-talk64's training run (docs/dev/talk_model_plan.md, "Data split" and
# "Preparation"): every clip face-cropped by the inference rule at 256 px, then FaceMesh landmarks
# per frame at 64 px.
#
#   tools/prepare_talk_data.sh            # into $PPFOM_RUNS/talk (default output/runs/talk)
#
# RUN/ds/train  the 43 training clips      RUN/ds/test       the 6 validation clips (selection)
# RUN/dsfinal/test  the 6 final clips (never trained on, never used to select)
# RUN/landmarks64   <clip>.npy FaceMesh landmarks of ds/ and dsfinal/ at 64 px
# Clips already cropped are kept, so the script resumes after an interruption.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN="${RUN:-${PPFOM_RUNS:-$REPO/output/runs}/talk}"
VIDEOS="${VIDEOS:-$REPO/../shared/data/videos}"
PYTHON="${PYTHON:-python}"
FINAL="dagan_driving retalking_3 styletalk_KristiNoem edtalk_expression_source dreamtalk_W009_front_happy_level3_001 lia_vox_driving3"
VALIDATION="fomdemo_2 lp_d5 lp_d12 lp_d14 styletalk_andrew_clip_1 retalking_1"
EXCLUDED="opencv_megamind paddlegan_mona7s"   # CGI; a painting

split_of() {
  local name=$1
  for n in $FINAL; do [[ $n == "$name" ]] && { echo dsfinal/test; return; }; done
  for n in $VALIDATION; do [[ $n == "$name" ]] && { echo ds/test; return; }; done
  for n in $EXCLUDED; do [[ $n == "$name" ]] && { echo skip; return; }; done
  echo ds/train
}

for clip in "$VIDEOS"/*; do
  name="$(basename "${clip%.*}")"
  split="$(split_of "$name")"
  [[ $split == skip ]] && continue
  out="$RUN/$split"
  mkdir -p "$out"
  if compgen -G "$out/$name*" > /dev/null; then continue; fi
  echo "crop $name -> $split"
  "$PYTHON" "$REPO/tools/crop_video.py" "$clip" --out "$out" --size 256 --min_frames 16
done
"$PYTHON" "$REPO/tools/make_landmarks.py" --dataroot "$RUN/ds" --out "$RUN/landmarks64" \
  --landmarks facemesh --frame_shape 64 64 --splits train test
"$PYTHON" "$REPO/tools/make_landmarks.py" --dataroot "$RUN/dsfinal" --out "$RUN/landmarks64" \
  --landmarks facemesh --frame_shape 64 64 --splits test
echo "$RUN: $(ls "$RUN/ds/train" | wc -l) train, $(ls "$RUN/ds/test" | wc -l) validation, $(ls "$RUN/dsfinal/test" | wc -l) final entries"
