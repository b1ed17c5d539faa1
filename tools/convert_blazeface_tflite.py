"""Convert MediaPipe's BlazeFace ``.tflite`` models into ppfom's bundled weight files.

    python tools/convert_blazeface_tflite.py face_detection_short_range.tflite OUT.npz
    python tools/convert_blazeface_tflite.py face_detection_short_range.tflite OUT.pdparams
    python tools/convert_blazeface_tflite.py face_detection_full_range_sparse.tflite OUT.npz

The model ships in the PyPI ``mediapipe`` wheel (``mediapipe/modules/face_detection/``, Apache-2.0).
The fp16 weights are stored exactly: an ``.npz`` keeps them as float16 (what ppfom bundles in
``ppfom/faceutils/face_detection/weights/``), a ``.pdparams`` as float32 in PaddleGAN's
``blazeface.pdparams`` layout. The full-range model is a different network: its ``.npz`` also holds
the operator list (``graph``, JSON) that ppfom's TFLite graph runner replays; only ``.npz`` is
possible for it. No TensorFlow is needed (ppfom reads the flatbuffer itself).
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppfom.faceutils.face_detection.blazeface import convert_blazeface_tflite  # noqa: E402
from ppfom.faceutils.tflite import graph_spec_from_tflite  # noqa: E402
from ppfom.utils.checkpoint import atomic_save  # noqa: E402
from ppfom.utils.cli import src_dst_parser  # noqa: E402


def main(argv=None):
    parser = src_dst_parser(__doc__, 'face_detection_short_range.tflite',
                            'output .npz (float16, bundled format) or .pdparams (float32)')
    args = parser.parse_args(argv)
    try:
        state, graph = convert_blazeface_tflite(args.src), None
    except ValueError as short_range_error:
        if 'not a BlazeFace short-range model' not in str(short_range_error):
            raise
        spec, state = graph_spec_from_tflite(args.src)   # full range: replayed as a graph
        graph = json.dumps(spec, separators=(',', ':'))
    if args.dst.endswith('.npz'):
        half = {k: v.astype(np.float16) for k, v in state.items()}
        lossy = [k for k in state if not np.array_equal(half[k].astype(np.float32), state[k])]
        if lossy:
            sys.exit(f'error: {lossy[0]} is not float16-exact; write a .pdparams instead')
        if graph is not None:
            half['graph'] = np.array(graph)
        tmp = args.dst + '.tmp.npz'
        np.savez_compressed(tmp, **half)
        os.replace(tmp, args.dst)
    elif graph is not None:
        sys.exit('error: the full-range model can only be written as .npz')
    elif args.dst.endswith('.pdparams'):
        atomic_save(state, args.dst)
    else:
        sys.exit(f'error: {args.dst}: the output must end in .npz or .pdparams')
    print(f'wrote {len(state)} tensors to {args.dst}')


if __name__ == '__main__':
    main()
