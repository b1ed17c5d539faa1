"""Save a contact sheet (a grid of evenly spaced frames) of a video as an image.

    python tools/contact_sheet.py output/result.mp4 docs/images/sheet.jpg [--frames 6] [--cols 3]
        [--width 320] [--driving VIDEO]

With ``--driving``, each tile shows the driving frame beside the result frame.
"""
import argparse
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

from ppfom.utils.video import VideoReader  # noqa: E402


def pick_frames(path, count):
    reader = VideoReader(path)
    n = reader.frame_count
    wanted = set(np.linspace(0, n - 1, count).round().astype(int).tolist())
    return [f for i, f in enumerate(reader.frames()) if i in wanted]


def fit(frame, width):
    h = round(frame.shape[0] * width / frame.shape[1])
    return cv2.resize(frame, (width, h), interpolation=cv2.INTER_AREA)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('video')
    parser.add_argument('output')
    parser.add_argument('--frames', type=int, default=6)
    parser.add_argument('--cols', type=int, default=3)
    parser.add_argument('--width', type=int, default=320)
    parser.add_argument('--driving', default=None)
    args = parser.parse_args(argv)
    tiles = [fit(f, args.width) for f in pick_frames(args.video, args.frames)]
    if args.driving:
        drive = [fit(f, args.width // 2) for f in pick_frames(args.driving, args.frames)]
        tiles = [np.concatenate([cv2.resize(d, (d.shape[1], t.shape[0])), t], axis=1)
                 for d, t in zip(drive, tiles)]
    rows = [np.concatenate(tiles[i:i + args.cols], axis=1) for i in range(0, len(tiles), args.cols)]
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    cv2.imwrite(args.output, cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR))
    print(args.output)


if __name__ == '__main__':
    main()
