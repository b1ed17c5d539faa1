"""Write the face anchors of every training clip, for the keypoint prior
(``loss_weights.keypoint_prior``; see ``ppfom/datasets/landmarks.py``).

    python tools/make_landmarks.py --dataroot RUN/data --out RUN/landmarks

For each entry of ``<dataroot>/<split>`` (videos or frame folders) it runs the bundled BlazeFace on
every frame (single pass, the most confident face) and writes ``<out>/<entry>.npy``
``(T, 10, 2)`` float32 in ``[-1, 1]`` (``NaN`` where no face was found), atomically. Existing files
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
from ppfom.datasets.landmarks import frame_anchors, landmarks_path  # noqa: E402
from ppfom.faceutils.face_detection import BlazeFaceDetector  # noqa: E402
from ppfom.utils.atomic import publish  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--dataroot', required=True, help='folder with train/ (and test/)')
    parser.add_argument('--out', required=True, help='folder for the <entry>.npy files')
    parser.add_argument('--splits', nargs='+', default=['train'])
    parser.add_argument('--frame_shape', type=int, nargs=2, default=[64, 64], metavar=('H', 'W'))
    parser.add_argument('--overwrite', action='store_true')
    args = parser.parse_args(argv)
    detector = BlazeFaceDetector(tiles=False)
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
            points = np.stack([frame_anchors(detector, frame, args.frame_shape)
                               for frame in frames])
            tmp = target + '.tmp'
            with open(tmp, 'wb') as f:
                np.save(f, points)
            publish(tmp, target)
            missed = int(np.isnan(points[:, 0, 0]).sum())
            print(f'{entry}: {len(points)} frames, no face in {missed}')


if __name__ == '__main__':
    main()
