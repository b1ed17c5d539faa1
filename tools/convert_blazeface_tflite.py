"""Convert MediaPipe's BlazeFace short-range ``.tflite`` into ppfom's bundled weight file.

    python tools/convert_blazeface_tflite.py face_detection_short_range.tflite OUT.npz
    python tools/convert_blazeface_tflite.py face_detection_short_range.tflite OUT.pdparams

The model ships in the PyPI ``mediapipe`` wheel (``mediapipe/modules/face_detection/``, Apache-2.0).
The fp16 weights are stored exactly: an ``.npz`` keeps them as float16 (what ppfom bundles in
``ppfom/faceutils/face_detection/weights/``), a ``.pdparams`` as float32 in PaddleGAN's
``blazeface.pdparams`` layout. No TensorFlow is needed (ppfom reads the flatbuffer itself).
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppfom.faceutils.face_detection.blazeface import convert_blazeface_tflite  # noqa: E402
from ppfom.utils.checkpoint import atomic_save  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='face_detection_short_range.tflite')
    parser.add_argument('dst', help='output .npz (float16, bundled format) or .pdparams (float32)')
    args = parser.parse_args(argv)
    state = convert_blazeface_tflite(args.src)
    if args.dst.endswith('.npz'):
        half = {k: v.astype(np.float16) for k, v in state.items()}
        lossy = [k for k in state if not np.array_equal(half[k].astype(np.float32), state[k])]
        if lossy:
            sys.exit(f'error: {lossy[0]} is not float16-exact; write a .pdparams instead')
        tmp = args.dst + '.tmp.npz'
        np.savez_compressed(tmp, **half)
        os.replace(tmp, args.dst)
    elif args.dst.endswith('.pdparams'):
        atomic_save(state, args.dst)
    else:
        sys.exit(f'error: {args.dst}: the output must end in .npz or .pdparams')
    print(f'wrote {len(state)} tensors to {args.dst}')


if __name__ == '__main__':
    main()
