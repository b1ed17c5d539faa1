"""Write the face anchors of every training clip, for the keypoint prior
(``loss_weights.keypoint_prior``; see ``ppfom/datasets/landmarks.py``).

    python tools/make_landmarks.py --dataroot RUN/data --out RUN/landmarks

For each entry of ``<dataroot>/<split>`` (videos or frame folders) it runs the bundled BlazeFace on
every frame (single pass, the most confident face) and writes ``<out>/<entry>.npy``
``(T, 10, 2)`` float32 in ``[-1, 1]`` (``NaN`` where no face was found), atomically. With
``--landmarks facemesh`` it follows the face with the bundled FaceMesh instead (MediaPipe's video
mode: detect, then the ROI from the previous frame's landmarks) and writes ``(T, 468, 2)``. Existing files
are kept unless ``--overwrite``. ``--frame_shape`` must match the dataset's (only its aspect
matters: the anchors are taken in the same centre crop).
"""
import argparse
import os
import sys

import numpy as np
from tqdm import tqdm

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppfom.datasets.firstorder_dataset import VIDEO_EXTS, iter_frames  # noqa: E402
from ppfom.datasets.landmarks import (centre_crop_box, frame_anchors,  # noqa: E402
                                     landmarks_path)
from ppfom.faceutils.face_detection import BlazeFaceDetector  # noqa: E402
from ppfom.faceutils.face_landmarks import LandmarkTracker, build_landmarker  # noqa: E402
from ppfom.utils.atomic import publish  # noqa: E402


def clip_landmarks(tracker, frames, frame_shape):
    """FaceMesh landmarks of every frame of a clip, followed from frame to frame:
    ``(T, 468, 2)`` float32 in FOMM's ``[-1, 1]`` coordinates of the dataset's centre crop of
    each frame resized to ``frame_shape`` (pixel centres, as :func:`frame_anchors`), NaN where
    no face was found."""
    out = []
    for frame in frames:
        top, left, crop_h, crop_w = centre_crop_box(frame.shape[0], frame.shape[1], frame_shape)
        points = tracker(frame)[:, :2] - [left, top]               # continuous pixels of the crop
        size = np.array([frame_shape[1], frame_shape[0]], np.float64)
        index = points * size / [crop_w, crop_h] - 0.5               # pixel index at frame_shape
        out.append((2 * index / (size - 1) - 1).astype(np.float32))
    return np.stack(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--dataroot', required=True, help='folder with train/ (and test/)')
    parser.add_argument('--out', required=True, help='folder for the <entry>.npy files')
    parser.add_argument('--splits', nargs='+', default=['train'])
    parser.add_argument('--frame_shape', type=int, nargs=2, default=[64, 64], metavar=('H', 'W'))
    parser.add_argument('--landmarks', choices=['anchors', 'facemesh'], default='anchors',
                        help='anchors: the 10 BlazeFace anchors of the keypoint prior; facemesh: '
                             "FaceMesh's 468 landmarks, followed through each clip (keypoint "
                             'detectors that read landmarks)')
    parser.add_argument('--overwrite', action='store_true')
    args = parser.parse_args(argv)
    detector = BlazeFaceDetector(tiles=False)
    landmarker = build_landmarker() if args.landmarks == 'facemesh' else None
    os.makedirs(args.out, exist_ok=True)
    for split in args.splits:
        folder = os.path.join(args.dataroot, split)
        if not os.path.isdir(folder):
            sys.exit(f'error: {folder} does not exist; --dataroot needs a {split}/ folder')
        for entry in sorted(os.listdir(folder)):
            path = os.path.join(folder, entry)
            if not (os.path.isdir(path) or entry.lower().endswith(VIDEO_EXTS)):
                continue
            target = landmarks_path(args.out, path)
            if os.path.exists(target) and not args.overwrite:
                continue
            frames = tqdm(iter_frames(path), desc=entry, leave=False,
                          disable=not sys.stderr.isatty())
            if landmarker is None:
                points = np.stack([frame_anchors(detector, frame, args.frame_shape)
                                   for frame in frames])
            else:
                points = clip_landmarks(LandmarkTracker(landmarker, detector), frames,
                                        args.frame_shape)
            tmp = target + '.tmp'
            with open(tmp, 'wb') as f:
                np.save(f, points)
            publish(tmp, target)
            missed = int(np.isnan(points[:, 0, 0]).sum())
            print(f'{entry}: {len(points)} frames, no face in {missed}')


if __name__ == '__main__':
    main()
