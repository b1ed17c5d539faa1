"""Convert the original PyTorch FOMM checkpoints (``vox-cpk.pth.tar``, ``taichi-cpk.pth.tar``, ...)
to a ppfom / PaddleGAN-layout ``.pdparams``.

    python tools/convert_weights.py vox-cpk.pth.tar vox-cpk.pdparams [-c configs/firstorder_vox_256.yaml]

The result loads with ``--weight_path``. The converted networks are checked against the config
(every key and shape) before anything is written.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('input', help='PyTorch checkpoint (.pth.tar / .pth)')
    parser.add_argument('output', help='where to write the .pdparams')
    parser.add_argument('-c', '--config', default=None,
                        help='config the weights belong to (default: configs/firstorder_vox_256.yaml)')
    args = parser.parse_args(argv)

    from ppfom.utils.checkpoint import CheckpointError
    from ppfom.models.convert import convert_fomm_checkpoint
    from ppfom.utils.model_zoo import config_path
    try:
        convert_fomm_checkpoint(args.input, args.output,
                                args.config or config_path('firstorder_vox_256.yaml'))
    except (CheckpointError, ValueError, OSError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    print(args.output)
    return 0


if __name__ == '__main__':
    sys.exit(main())
