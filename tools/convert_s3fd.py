"""Convert face-alignment's S3FD weights (``s3fd-619a316812.pth``) to a Paddle ``.pdparams``.

    python tools/convert_s3fd.py s3fd-619a316812.pth s3fd.pdparams

The output has PaddleGAN's layout (a flat dict, the names of ``param_names_s3fd.txt``), so it is
interchangeable with PaddleGAN's ``s3fd_paddle.pdparams``; pass it with ``--detector_weights``.
PyTorch is not needed: the .pth is read by ppfom.utils.torch_pickle.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppfom.faceutils.face_detection.sfd_detector import convert_s3fd_state_dict  # noqa: E402
from ppfom.utils.checkpoint import atomic_save  # noqa: E402
from ppfom.utils.cli import src_dst_parser  # noqa: E402
from ppfom.utils.torch_pickle import load_torch_checkpoint  # noqa: E402


def main(argv=None):
    parser = src_dst_parser(__doc__, 'face-alignment s3fd .pth file',
                            'output .pdparams file')
    args = parser.parse_args(argv)
    state = convert_s3fd_state_dict(load_torch_checkpoint(args.src, data_only=True))
    atomic_save(state, args.dst)
    print(f'wrote {len(state)} tensors to {args.dst}')


if __name__ == '__main__':
    main()
