"""Convert the official GFPGAN v1.3 / v1.4 PyTorch weights to a Paddle ``.pdparams``.

    python tools/convert_gfpgan.py GFPGANv1.4.pth GFPGANv1.4.pdparams

Reads ``params_ema`` from the ``.pth`` without torch (``ppfom.utils.torch_pickle``), renames
nothing (the Paddle names are the official ones), transposes the linear weights to Paddle's
``[in, out]``, checks every key and shape against ``GFPGANv1Clean()`` and writes the result.
Use the output with ``--face_enhancement --enhancer gfpgan --enhancer_weights OUT.pdparams``.
Exit status 1 with a one-line message on any error.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppfom.utils.cli import src_dst_parser  # noqa: E402


def convert(src, dst):
    """Convert ``src`` (.pth) to ``dst`` (.pdparams); returns the number of tensors written."""
    import paddle
    from ppfom.faceutils.face_enhancement import GFPGANv1Clean, check_and_load, \
        gfpgan_torch_to_paddle
    from ppfom.utils.checkpoint import atomic_save
    from ppfom.utils.torch_pickle import load_torch_checkpoint
    state = gfpgan_torch_to_paddle(load_torch_checkpoint(src, data_only=True))
    with paddle.LazyGuard():  # shapes only, no random init
        net = GFPGANv1Clean()
    check_and_load(net, state, src)  # exact key and shape check
    atomic_save(state, dst)
    return len(state)


def main(argv=None):
    parser = src_dst_parser(__doc__, 'GFPGANv1.3.pth or GFPGANv1.4.pth (official release)',
                            'output .pdparams')
    args = parser.parse_args(argv)
    if not os.path.isfile(args.src):
        parser.exit(1, f'error: {args.src} not found\n')
    try:
        n = convert(args.src, args.dst)
    except (ValueError, OSError, ImportError) as exc:
        parser.exit(1, f'error: {exc}\n')
    print(f'wrote {n} tensors to {args.dst}')


if __name__ == '__main__':
    main()
