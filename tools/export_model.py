"""Export the FOMM networks of a checkpoint to static programs for Paddle Inference (or ONNX).

    python tools/export_model.py -c configs/firstorder_vox_256.yaml --load vox-cpk.pdparams \\
        --output_dir exported/vox256 [--image_size 256] [--format paddle|onnx]
    python tools/export_model.py -c configs/firstorder_talk.yaml \\
        --load ppfom/weights/ppfom_talk64.pdparams --output_dir exported/talk64 \\
        --image_size 64 --output_size 256

Writes ``kp_detector``, ``source_encoder`` and ``generator`` programs (see
``ppfom/inference/export.py``) and ``ppfom_export.json``. The generator takes already-normalised
driving keypoints, so relative/absolute motion and ``adapt_scale`` stay run-time choices; the
batch size is dynamic, the image size fixed. ``--format onnx`` also converts each program with
paddle2onnx (``pip install paddle2onnx``). ``--output_size`` (models with ``compose_deformed``,
like the bundled ones, whose 64 px networks render 256 px frames): the generator composes its
frames at that size from the source given at that size, as the demo does.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def export_onnx(folder, opset=13):
    """Convert the three programs in ``folder`` to ``<name>.onnx`` with paddle2onnx.

    Raises ``SystemExit`` with the install command when paddle2onnx is missing.
    """
    try:
        import paddle2onnx
    except ImportError:
        raise SystemExit('--format onnx needs paddle2onnx: pip install paddle2onnx '
                         '(the Paddle programs were written and can be used without it)')
    from ppfom.inference.export import PROGRAMS, program_files
    written = []
    for name in PROGRAMS:
        model_file, params_file = program_files(folder, name)
        target = os.path.join(folder, name + '.onnx')
        paddle2onnx.export(model_file, params_file, target, opset_version=opset)
        written.append(target)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('-c', '--config', required=True, help='model YAML (e.g. configs/...)')
    parser.add_argument('--load', required=True, help='weights (.pdparams)')
    parser.add_argument('--output_dir', required=True)
    parser.add_argument('--image_size', type=int, nargs='+', default=[256],
                        help='H [W] the programs are built for (default 256)')
    parser.add_argument('--output_size', type=int, nargs='+', default=None,
                        help='H [W] of the frames (compose_deformed models; default: image size)')
    parser.add_argument('--format', choices=('paddle', 'onnx'), default='paddle')
    parser.add_argument('--opset', type=int, default=13, help='ONNX opset (--format onnx)')
    args = parser.parse_args(argv)

    from ppfom.inference.export import export_from_weights
    from ppfom.utils.checkpoint import CheckpointError
    from ppfom.utils.config import ConfigError, load_config

    size = args.image_size * 2 if len(args.image_size) == 1 else args.image_size
    if len(size) != 2 or min(size) < 32:
        raise SystemExit(f'--image_size takes H or H W (>= 32 each), got {args.image_size}')
    output = args.output_size or size
    output = output * 2 if len(output) == 1 else output
    if len(output) != 2 or min(output) < 32:
        raise SystemExit(f'--output_size takes H or H W (>= 32 each), got {args.output_size}')
    try:
        cfg = load_config(args.config)
        if 'model' not in cfg:
            raise SystemExit(f"{args.config} has no 'model' section; pass a model config")
        meta = export_from_weights(cfg.model, args.load, args.output_dir, tuple(size),
                                   output_size=tuple(output))
    except (ConfigError, CheckpointError, ValueError) as exc:
        raise SystemExit(str(exc))
    print(f'exported {", ".join(sorted(meta["files"]))} for {size[0]}x{size[1]} images '
          f'(frames {output[0]}x{output[1]}) to {args.output_dir}')
    if args.format == 'onnx':
        for path in export_onnx(args.output_dir, args.opset):
            print(f'wrote {path}')


if __name__ == '__main__':
    main()
