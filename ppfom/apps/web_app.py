"""A web page for animating a photo with a driving video (First Order Motion Model).

    pip install 'ppfom[web]'
    ppfom web            # then open http://127.0.0.1:7860

The ``ppfom web`` command; ``applications/tools/gradio_app.py`` is a thin wrapper. The page binds
to 127.0.0.1 (this machine only) unless --host says otherwise, and never opens a public gradio.live
link unless --share is given. The app's logic lives in ppfom/apps/web.py, its page layout in
ppfom/apps/web_page.py.
"""
import argparse
import logging
import os
import sys


def build_parser(prog=None):
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split('\n')[0])
    add = parser.add_argument
    add('--host', default='127.0.0.1',
        help='address to bind (127.0.0.1: this machine only; 0.0.0.0: every network interface)')
    add('--port', type=int, default=7860, help='port to listen on')
    add('--share', action='store_true', help='also open a public gradio.live link (off)')
    add('--model', default=None, help='model zoo name shown first: vox256, vox512, vox-mobile')
    add('--weight_path', default=None, help='FOMM weights (.pdparams): offered as "custom"')
    add('--config', default=None, help='YAML with the model section of --weight_path')
    add('--image_size', type=int, default=None, help='default network resolution in the page')
    add('--enhancer_weights', default=None,
        help='local GFPGAN weights for "Face enhancement" (default: downloaded once)')
    add('--examples', default=None,
        help="folder with images/ and videos/ to offer as examples (default: the package's "
             'example photo, painting and driving video)')
    add('--output', default=None, help='folder for the results (default: a temporary folder)')
    add('--cpu', action='store_true', help='run on the CPU even when a GPU is available')
    return parser


def main(argv=None, prog=None):
    args = build_parser(prog).parse_args(argv)
    # no usage statistics sent to gradio's servers from a local app
    os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
    # no line per HTTP request in the app's log (gradio's client polls the server)
    logging.getLogger('httpx').setLevel(logging.WARNING)
    try:
        import gradio  # noqa: F401
    except ImportError:
        print('error: gradio is not installed; run: pip install -r requirements-web.txt',
              file=sys.stderr)
        return 2
    from . import examples as shipped
    from .web import DEFAULT_SIZE, MAX_UPLOAD_MB, WebAnimator, example_pairs, model_choices
    from .web_page import build_app
    for flag, path in (('--weight_path', args.weight_path), ('--config', args.config),
                       ('--enhancer_weights', args.enhancer_weights)):
        if path and not os.path.isfile(path):
            print(f'error: {flag} {path} not found', file=sys.stderr)
            return 2
    choices = model_choices(args.weight_path, args.config, args.model)
    animator = WebAnimator(choices, output_root=args.output,
                           device='cpu' if args.cpu else None,
                           enhancer_weights=args.enhancer_weights)
    examples_dir = args.examples or shipped.EXAMPLES_DIR
    examples = example_pairs(args.examples) if args.examples else shipped.gallery()
    app = build_app(animator, examples, default_size=args.image_size or DEFAULT_SIZE)
    app.queue(default_concurrency_limit=1)
    app.launch(server_name=args.host, server_port=args.port, share=args.share,
               show_error=True, max_file_size=f'{MAX_UPLOAD_MB}mb',
               allowed_paths=[examples_dir] if examples else None)
    return 0
