"""Cross-identity animation score: animate photos with other people's clips and measure how well
each result follows its driver (:mod:`ppfom.metrics.animation`; needs ``pip install 'ppfom[eval]'``).

    ppfom evaluate --pairs PHOTO:VIDEO [PHOTO:VIDEO ...] --output DIR
        [--data_dir ../shared/data] [--max_frames 120] [--model NAME | --weight_path W --config C]
        [--no_relative] [--no_adapt_scale] [--references]

Relative paths in ``--pairs`` are looked up under ``--data_dir`` (``images/`` for photos,
``videos/`` for clips) when they do not exist as given. Writes ``DIR/scores.json`` (per pair and
medians) and ``DIR/<photo>__<clip>.jpg`` contact sheets (driver | result face). With
``--references`` each pair also gets three reference rows: ``static`` (the photo unmoved),
``self`` (the driving clip scored against itself) and ``piecewise`` (the photo's face warped along
FaceMesh's landmark mesh by the same motion, no network; :mod:`ppfom.metrics.references`).

The ``ppfom evaluate`` command; ``tools/evaluate_animation.py`` is a thin wrapper.
"""
import argparse
import json
import os
import sys

from ..metrics.animation import SIGNALS, median_scores, score_pair
from ..metrics.face_analysis import EvalDependencyError, check_eval_dependencies
from . import defaults


def build_parser(prog=None):
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split('\n')[0])
    parser.add_argument('--pairs', nargs='+', required=True, metavar='PHOTO:VIDEO')
    parser.add_argument('--output', required=True, help='folder for scores.json and the sheets')
    parser.add_argument('--data_dir', default=None,
                        help='where relative pair paths are looked up (images/, videos/)')
    parser.add_argument('--max_frames', type=int, default=None,
                        help='only the first N frames of each driving clip')
    parser.add_argument('--model', default=None, help=f'model zoo name (default: {defaults.MODEL}, bundled)')
    parser.add_argument('--weight_path', default=None)
    parser.add_argument('--config', default=None)
    parser.add_argument('--no_relative', action='store_true',
                        help='absolute keypoint motion (default: --relative)')
    parser.add_argument('--no_adapt_scale', action='store_true',
                        help='no scale adaptation (default: --adapt_scale)')
    parser.add_argument('--find_best_frame', action='store_true')
    parser.add_argument('--references', action='store_true',
                        help='add the static-photo, driver-against-itself and piecewise-warp '
                             'rows')
    parser.add_argument('--sheet_frames', type=int, default=6,
                        help='tiles (driver | result) in each contact sheet')
    return parser


def parse_args(argv=None, prog=None):
    return build_parser(prog).parse_args(argv)


def resolve(path, data_dir, sub):
    if os.path.exists(path) or not data_dir:
        return path
    candidate = os.path.join(data_dir, sub, path)
    return candidate if os.path.exists(candidate) else path


def split_pair(text, data_dir):
    if ':' not in text:
        raise ValueError(f"pair '{text}' must look like PHOTO:VIDEO")
    photo, video = text.rsplit(':', 1)
    photo, video = resolve(photo, data_dir, 'images'), resolve(video, data_dir, 'videos')
    for path in (photo, video):
        if not os.path.isfile(path):
            raise ValueError(f'{path} (in pair {text}) does not exist; check --pairs/--data_dir')
    return photo, video


def fmt(value, spec='{:.2f}'):
    return '-' if value is None else spec.format(value)


def row(label, score):
    sig = score['signals']
    return [label] + [fmt(sig[n]['r']) for n in SIGNALS] + [
        fmt(sig['mouth']['amplitude_ratio']), fmt(sig['eyes']['amplitude_ratio']),
        fmt(score['identity_distance'], '{:.3f}'), fmt(score['face_found'])]


def print_table(rows):
    head = ['pair'] + [f'r {n}' for n in SIGNALS] + ['amp mouth', 'amp eyes', 'id dist', 'found']
    rows = [head] + rows
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    for r in rows:
        print('  '.join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


def main(argv=None, prog=None):
    args = parse_args(argv, prog)
    try:
        pairs = [split_pair(p, args.data_dir) for p in args.pairs]
        analyzer = check_eval_dependencies()
        kwargs = dict(relative=not args.no_relative, adapt_scale=not args.no_adapt_scale,
                      find_best_frame=args.find_best_frame, model=args.model,
                      weight_path=args.weight_path, config=args.config)
        from .first_order_predictor import FirstOrderPredictor
        predictor = FirstOrderPredictor(audio=False, progress=False, **kwargs)
        os.makedirs(args.output, exist_ok=True)
        results, rows = [], []
        for photo, video in pairs:
            name = (f'{os.path.splitext(os.path.basename(photo))[0]}__'
                    f'{os.path.splitext(os.path.basename(video))[0]}')
            entry = {'photo': photo, 'driving': video, 'sheet': os.path.join(args.output,
                                                                             name + '.jpg')}
            entry['model'] = score_pair(photo, video, max_frames=args.max_frames,
                                        sheet_path=entry['sheet'], sheet_frames=args.sheet_frames,
                                        predictor=predictor, analyzer=analyzer)
            rows.append(row(name, entry['model']))
            if args.references:
                entry.update(reference_rows(photo, video, args.max_frames, analyzer,
                                            kwargs['relative'], kwargs['adapt_scale']))
                rows += [row('  ' + k, entry[k]) for k in REFERENCES]
            results.append(entry)
            print(f"{name}: mouth r {fmt(entry['model']['signals']['mouth']['r'])}", flush=True)
        kinds = ['model'] + (list(REFERENCES) if args.references else [])
        summary = {k: median_scores([e[k] for e in results]) for k in kinds}
        rows += [row(f'median {k}', summary[k]) for k in kinds]
        out = {'options': {**kwargs, 'max_frames': args.max_frames}, 'pairs': results,
               'median': summary}
        path = os.path.join(args.output, 'scores.json')
        with open(path, 'w') as f:
            json.dump(out, f, indent=2)
        print_table(rows)
        print(f'wrote {path}')
    except (EvalDependencyError, ValueError, OSError) as exc:
        if os.environ.get('PPFOM_DEBUG'):
            raise
        print(f'error: {exc} (set PPFOM_DEBUG=1 for the traceback)', file=sys.stderr)
        return 2
    return 0


REFERENCES = ('static', 'self', 'piecewise')


def reference_rows(photo, video, max_frames, analyzer, relative=True, adapt_scale=True):
    """``static``: the photo unmoved as the result; ``self``: the driver as its own result;
    ``piecewise``: the photo's face crop warped along the landmark mesh by the driver's motion
    (``relative``, ``adapt_scale`` as for the model), scored on that crop."""
    from ..metrics.animation import read_clip
    from ..metrics.references import piecewise_animation
    from ..utils.image_io import read_image
    frames, _ = read_clip(video, max_frames)
    image = read_image(photo)
    warped = piecewise_animation(image, frames, relative, adapt_scale, analyzer)
    return {'static': score_pair(image, frames, result=[image] * len(frames), analyzer=analyzer),
            'self': score_pair(image, frames, result=frames, crop_result=False,
                               analyzer=analyzer),
            'piecewise': score_pair(image, frames, result=warped, crop_result=False,
                                    analyzer=analyzer)}
