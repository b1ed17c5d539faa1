"""The ``ppfom`` command (console script and ``python -m ppfom``): one subcommand per task, each
the ``main(argv, prog)`` of a module of the package (the scripts under ``applications/tools`` and
``tools`` are thin wrappers around the same functions).

    ppfom animate --source_image photo.png --driving_video driving.mp4
    ppfom web | train -c CFG | evaluate --pairs PHOTO:VIDEO --output DIR | fetch vox256
"""
import importlib
import sys

from . import __version__

COMMANDS = {
    'animate': ('ppfom.apps.demo_cli',
                'animate a photo with a driving video (first-order-demo.py)'),
    'web': ('ppfom.apps.web_app', 'the web page (gradio_app.py; needs ppfom[web])'),
    'train': ('ppfom.engine.main', 'train or evaluate a model from a YAML config (tools/main.py)'),
    'evaluate': ('ppfom.apps.evaluate_cli',
                 'score animated photos against their drivers (tools/evaluate_animation.py; '
                 'needs ppfom[eval])'),
    'fetch': ('ppfom.apps.fetch_cli', "download a model's weights into the cache, or list them"),
}


def usage():
    width = max(map(len, COMMANDS))
    lines = [f'usage: ppfom {{{",".join(COMMANDS)}}} [--help] ...', '',
             'Image animation with the First Order Motion Model, in PaddlePaddle.', '',
             'commands:']
    lines += [f'  {name.ljust(width)}  {text}' for name, (_, text) in COMMANDS.items()]
    lines += ['', 'ppfom COMMAND --help shows the flags of a command; ppfom --version the version.']
    return '\n'.join(lines)


def main(argv=None):
    """Run ``ppfom COMMAND [flags]``; returns the exit code (0 done, 2 bad input)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ('-h', '--help'):
        print(usage(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    if argv[0] == '--version':
        print(f'ppfom {__version__}')
        return 0
    if argv[0] not in COMMANDS:
        print(f"ppfom: error: unknown command '{argv[0]}'; choose one of {', '.join(COMMANDS)}",
              file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    return module.main(argv[1:], prog=f'ppfom {argv[0]}')
