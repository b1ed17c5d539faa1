"""Animate a photo with a driving video (First Order Motion Model).

    ppfom animate --source_image IMG --driving_video VID
    ppfom animate --example          # the example shipped in the package

The ``ppfom animate`` command; ``applications/tools/first-order-demo.py`` is a thin wrapper.
Flags follow PaddleGAN's first-order-demo.py (relative motion and adapted scale are on by default;
``--absolute`` / ``--no_adapt_scale`` turn them off); the result is written to OUTPUT/FILENAME.
Exit codes: 0 done, 2 bad input (one line ``error: ...``), 130 Ctrl-C, 143 SIGTERM; on any
error nothing is left in the output folder.
"""
import argparse
import signal
import sys
import threading

from . import defaults


def build_parser(prog=None):
    """The flags of ``ppfom animate`` (PaddleGAN's names), with the defaults of
    :mod:`ppfom.apps.defaults`."""
    from ..utils.model_zoo import MODEL_ZOO
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split('\n')[0])
    add = parser.add_argument
    add('--config', default=None, help='YAML with a model section (default: the model\'s own)')
    add('--weight_path', default=None, help='FOMM weights (.pdparams); default: download/bundled')
    add('--model', default=None,
        help=f"model zoo name ({', '.join(MODEL_ZOO)}; default: {defaults.MODEL}, bundled)")
    add('--source_image', default=None, help='the photo to animate (required unless --example)')
    add('--driving_video', default=None,
        help='the video whose motion is transferred (required unless --example)')
    add('--example', action='store_true',
        help="animate the example shipped in the package (PaddleGAN's demo photo and video); "
             '--source_image / --driving_video replace either file')
    add('--output', default=defaults.OUTPUT, help='output folder')
    add('--filename', default=defaults.FILENAME, help='output file name')
    add('--relative', dest='relative', action='store_true', default=defaults.RELATIVE,
        help='relative motion (the default; kept for PaddleGAN\'s command lines)')
    add('--absolute', dest='relative', action='store_false',
        help='absolute motion: the driving keypoints as they are (the face takes the driving '
             "face's place and size)")
    add('--adapt_scale', dest='adapt_scale', action='store_true', default=defaults.ADAPT_SCALE,
        help='adapt the motion to the source face size (the default)')
    add('--no_adapt_scale', dest='adapt_scale', action='store_false',
        help='do not adapt the motion to the source face size')
    add('--find_best_frame', action='store_true',
        help='start from the driving frame whose pose best matches the source')
    add('--best_frame', type=int, default=None, help='start from this driving frame (0-based)')
    add('--paste', default=defaults.PASTE, choices=defaults.PASTE_CHOICES,
        help='head: paste the animated head only (FaceMesh landmarks; neck, clothes and '
             'background stay the photo\'s); disc: PaddleGAN\'s disc of --ratio')
    add('--ratio', type=float, default=defaults.RATIO,
        help=f'with --paste disc: radius / crop side of the pasted disc ({defaults.RATIO}; '
             '0.5 = whole crop)')
    add('--face_detector', default=defaults.FACE_DETECTOR,
        help='blazeface (bundled), blazeface_full or sfd')
    add('--detector_weights', default=None, help='weights of the face detector (sfd)')
    add('--multi_person', action='store_true', help='animate every face in the photo')
    add('--no_crop', action='store_true',
        help='animate the whole image instead of the face (the original FOMM demo)')
    add('--crop_driving', default=defaults.CROP_DRIVING, choices=defaults.CROP_DRIVING_CHOICES,
        help='crop the driving video around the face (auto: as the photo is framed when the '
             'photo is cropped; with --no_crop, when the frame is not square or the face small)')
    add('--image_size', type=int, default=None, help='network resolution: 256 or 512')
    add('--batch_size', type=int, default=defaults.BATCH_SIZE,
        help='driving frames per network call')
    add('--face_enhancement', action='store_true', help='restore faces after animation')
    add('--enhancer', default=defaults.ENHANCER, choices=defaults.ENHANCER_CHOICES,
        help='face enhancer')
    add('--enhancer_weights', default=None, help='weights of the face enhancer')
    add('--mobile_net', action='store_true', help="PaddleGAN's lightweight model")
    add('--backend', default=defaults.BACKEND, choices=defaults.BACKEND_CHOICES,
        help='how the networks run: Paddle Inference (exported once, cached) or eager')
    add('--precision', default=defaults.PRECISION, choices=defaults.PRECISION_CHOICES,
        help='inference precision (auto: bf16 on CPUs with native bf16)')
    add('--threads', type=int, default=None, help='CPU threads of the inference backend')
    add('--rebuild_export', action='store_true', help='export the inference programs again')
    add('--no_audio', action='store_true', help='do not copy the driving audio')
    add('--audio', default=None, metavar='FILE',
        help="put this file's sound under the result instead of the driving audio (trimmed or "
             "padded with silence to the video's length)")
    add('--cpu', action='store_true', help='run on the CPU even when a GPU is available')
    return parser


def predictor_kwargs(args):
    """:class:`~ppfom.apps.FirstOrderPredictor` arguments from the parsed flags (also used by
    ``live-demo.py``, which takes the same model, detector, backend and motion flags)."""
    return dict(
        output=args.output, weight_path=args.weight_path, config=args.config,
        relative=args.relative, adapt_scale=args.adapt_scale,
        find_best_frame=args.find_best_frame, best_frame=args.best_frame, ratio=args.ratio,
        paste=args.paste, filename=args.filename, face_detector=args.face_detector,
        multi_person=args.multi_person, image_size=args.image_size,
        face_enhancement=args.face_enhancement, batch_size=args.batch_size,
        mobile_net=args.mobile_net, model=args.model, detector_weights=args.detector_weights,
        crop=not args.no_crop, crop_driving=args.crop_driving, enhancer=args.enhancer,
        enhancer_weights=args.enhancer_weights, backend=args.backend,
        precision=args.precision, threads=args.threads, rebuild_export=args.rebuild_export,
        audio=args.audio or not args.no_audio, device='cpu' if args.cpu else None)


def _terminate(signum, frame):
    raise SystemExit(128 + signum)  # unwinds like an error: the temporary file is deleted


def main(argv=None, prog=None):
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    from ..utils.download import DownloadError
    from . import examples
    from .first_order_predictor import FirstOrderPredictor
    if args.example:
        args.source_image = args.source_image or examples.SOURCE_IMAGE
        args.driving_video = args.driving_video or examples.DRIVING_VIDEO
    for flag in ('source_image', 'driving_video'):
        if getattr(args, flag) is None:
            parser.error(f'--{flag} is required (or --example for the shipped example)')
    if args.audio and args.no_audio:
        parser.error('--audio FILE and --no_audio contradict each other; pass one')
    previous = signal.signal(signal.SIGTERM, _terminate) \
        if threading.current_thread() is threading.main_thread() else None
    try:
        predictor = FirstOrderPredictor(**predictor_kwargs(args), messages='cli')
        path = predictor.run(args.source_image, args.driving_video)
    except (ValueError, OSError, KeyError, DownloadError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f'error: {message}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print('error: interrupted (Ctrl-C); nothing was written', file=sys.stderr)
        return 130
    except SystemExit as exc:
        if exc.code == 128 + signal.SIGTERM:
            print('error: terminated (SIGTERM); nothing was written', file=sys.stderr)
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    print(path)
    return 0
