"""Turn an uncropped video into FOMM test/train clips: split it at shot cuts and crop every shot
to a stable square around the face (as the original's ``crop-video.py`` prepares VoxCeleb).

    python tools/crop_video.py INPUT.mp4 --out DATAROOT/test [--size 256] [--min_frames 30]

Each shot of at least ``--min_frames`` frames becomes ``<out>/<input name>_<k>.mp4``: the face is
tracked with the bundled BlazeFace (``ppfom.faceutils.tracking``), the crop side is fixed per shot
and its centre smoothed over time, frames are resized to ``--size``. A cut is a frame whose mean
absolute difference to the previous one exceeds ``--cut_threshold`` (0-255 scale, on frames shrunk
to 64 px). Shots without a face are skipped with a message.
"""
import argparse
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppfom.datasets.firstorder_dataset import iter_frames  # noqa: E402
from ppfom.faceutils.crop import crop_square  # noqa: E402
from ppfom.faceutils.face_detection import BlazeFaceDetector  # noqa: E402
from ppfom.faceutils.tracking import smooth_crops, track_boxes  # noqa: E402
from ppfom.utils.video import VideoReader, VideoWriter  # noqa: E402


def shot_bounds(frames, threshold):
    """``[(start, end)]`` of the shots of ``frames`` (list of ``(H, W, 3)`` uint8)."""
    small = [cv2.resize(f, (64, 64), interpolation=cv2.INTER_AREA).astype(np.float32)
             for f in frames]
    cuts = [i for i in range(1, len(small))
            if np.abs(small[i] - small[i - 1]).mean() > threshold]
    edges = [0] + cuts + [len(frames)]
    return list(zip(edges[:-1], edges[1:]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('input')
    parser.add_argument('--out', required=True)
    parser.add_argument('--size', type=int, default=256)
    parser.add_argument('--min_frames', type=int, default=30)
    parser.add_argument('--cut_threshold', type=float, default=25.0)
    args = parser.parse_args(argv)
    if not os.path.isfile(args.input):
        sys.exit(f'error: {args.input} does not exist')
    frames = list(iter_frames(args.input))
    if not frames:
        sys.exit(f'error: {args.input} has no frames')
    fps = VideoReader(args.input).fps
    detector = BlazeFaceDetector(tiles=False)
    os.makedirs(args.out, exist_ok=True)
    name = os.path.splitext(os.path.basename(args.input))[0]
    written = 0
    for k, (start, end) in enumerate(shot_bounds(frames, args.cut_threshold)):
        shot = frames[start:end]
        if len(shot) < args.min_frames:
            continue
        try:
            boxes, _ = track_boxes(shot, detector.detect)
        except ValueError:
            print(f'shot {k} (frames {start}-{end - 1}): no face, skipped')
            continue
        crops = smooth_crops(boxes, (shot[0].shape[1], shot[0].shape[0]))
        out = [crop_square(f, c, args.size) for f, c in zip(shot, crops)]
        path = os.path.join(args.out, f'{name}_{k}.mp4')
        with VideoWriter(path, fps, quality=9) as writer:
            writer.write(np.stack(out))
        print(f'{path}: frames {start}-{end - 1} ({len(out)}), crop side {crops[0].size} px')
        written += 1
    if not written:
        sys.exit(f'error: no shot of {args.input} has {args.min_frames}+ frames with a face')


if __name__ == '__main__':
    main()
