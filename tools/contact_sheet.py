"""Save a contact sheet (a grid of evenly spaced frames) of a video as an image.

    python tools/contact_sheet.py output/result.mp4 docs/images/sheet.jpg [--frames 6] [--cols 3]
        [--width 320] [--driving VIDEO] [--zoom_face]

With ``--driving``, each tile shows the driving frame beside the result frame. With
``--zoom_face``, every result frame is cut to a square of 1.6x the face found (BlazeFace) in its
first frame, so that the motion of a face that fills little of the photo shows.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))

from ppfom.utils.contact_sheet import fit, grid, save_rgb, side_by_side, spread  # noqa: E402
from ppfom.utils.video import VideoReader  # noqa: E402


def pick_frames(path, count):
    reader = VideoReader(path)
    wanted = set(spread(reader.frame_count, count))
    return [f for i, f in enumerate(reader.frames()) if i in wanted]


def zoom_face(frames, scale=1.6):
    """Cut every frame to the square of ``scale`` x the largest face of the first frame."""
    from ppfom.faceutils.crop import SquareCrop, crop_square
    from ppfom.faceutils.face_detection import BlazeFaceDetector
    from ppfom.faceutils.tracking import largest_box
    box = largest_box(BlazeFaceDetector().detect(frames[0]))
    if box is None:
        sys.exit('error: --zoom_face found no face in the first frame; leave it out')
    side = int(round(scale * max(box[2] - box[0], box[3] - box[1])))
    crop = SquareCrop(int(round((box[0] + box[2] - side) / 2)),
                      int(round((box[1] + box[3] - side) / 2)), side)
    return [crop_square(f, crop, side) for f in frames]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('video')
    parser.add_argument('output')
    parser.add_argument('--frames', type=int, default=6)
    parser.add_argument('--cols', type=int, default=3)
    parser.add_argument('--width', type=int, default=320)
    parser.add_argument('--driving', default=None)
    parser.add_argument('--zoom_face', action='store_true')
    args = parser.parse_args(argv)
    frames = pick_frames(args.video, args.frames)
    if args.zoom_face:
        frames = zoom_face(frames)
    tiles = [fit(f, args.width) for f in frames]
    if args.driving:
        drive = [fit(f, args.width // 2) for f in pick_frames(args.driving, args.frames)]
        tiles = [side_by_side(d, t) for d, t in zip(drive, tiles)]
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    save_rgb(args.output, grid(tiles, args.cols))
    print(args.output)


if __name__ == '__main__':
    main()
