"""Download the weights of zoo models into the cache ahead of use, or list where they are.

    ppfom fetch vox256 [vox512 ...]     # prints each file's path
    ppfom fetch --list

A file already in ppfom's cache (``~/.cache/ppfom``, ``$PPFOM_HOME``) or in PaddleGAN's
(``~/.cache/ppgan``) is not downloaded again. The ``ppfom fetch`` command.
"""
import argparse
import sys

from ..utils.download import KNOWN_SHA256, DownloadError, find_cached, get_path_from_url
from ..utils.model_zoo import MODEL_ZOO, get_model_spec, weights_path


def weights_status(spec):
    """``(where, checksum)`` of a zoo model's weights: where is ``bundled``, the cached path or
    ``not downloaded``; checksum is ``sha256 checked``, ``unchecked (no published checksum)``
    or ``in the package``."""
    if spec.bundled:
        return weights_path(spec.bundled), 'in the package'
    name = spec.url.rsplit('/', 1)[-1]
    known = spec.sha256 or KNOWN_SHA256.get(name)
    checksum = 'sha256 checked' if known else 'unchecked (no published checksum)'
    return find_cached(spec.url, known) or 'not downloaded', checksum


def build_parser(prog=None):
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split('\n')[0])
    parser.add_argument('models', nargs='*', metavar='MODEL',
                        help=f"zoo names: {', '.join(MODEL_ZOO)}")
    parser.add_argument('--list', action='store_true',
                        help='list the models, where their weights are and whether checked')
    return parser


def main(argv=None, prog=None):
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if not args.models and not args.list:
        parser.error('name a model to fetch (or --list)')
    if args.list:
        for spec in MODEL_ZOO.values():
            where, checksum = weights_status(spec)
            print(f'{spec.name:14s} {checksum:34s} {where}')
    try:
        for name in args.models:
            spec = get_model_spec(name)
            print(weights_path(spec.bundled) if spec.bundled else
                  get_path_from_url(spec.url, sha256=spec.sha256, flag='--weight_path'))
    except (KeyError, DownloadError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) else exc
        print(f'error: {message}', file=sys.stderr)
        return 2
    return 0
