"""Train or evaluate FOMM from a YAML config (PaddleGAN's ``tools/main.py`` arguments): the
``ppfom train`` command; ``tools/main.py`` is a thin wrapper.

    ppfom train -c configs/firstorder_vox_256.yaml
    python tools/main.py -c configs/firstorder_vox_256.yaml
    python tools/main.py -c CFG -o dataset.train.batch_size=4 model.train_params.micro_batches=2
    python tools/main.py -c CFG --resume output_dir/RUN/checkpoint_last.pdparams
    python tools/main.py -c CFG --load weights.pdparams --evaluate-only
    python -m paddle.distributed.launch --nproc_per_node 2 tools/main.py -c CFG

Exit codes: 0 done, 2 bad input or a failure named on one ``error:`` line (a full disk keeps the
previous checkpoint), 130 Ctrl-C / 143 SIGTERM (after saving a checkpoint to resume from).
"""
import argparse
import os
import signal
import sys

from ..datasets.firstorder_dataset import DatasetError
from ..metrics.face_analysis import EvalDependencyError
from ..models.losses.perceptual import PerceptualWeightsError
from ..utils.checkpoint import CheckpointError
from ..utils.config import ConfigError, get_config


def parse_args(argv=None, prog=None):
    parser = argparse.ArgumentParser(prog=prog,
                                     description='Train or evaluate a First Order Motion Model')
    parser.add_argument('-c', '--config-file', required=True, metavar='FILE',
                        help='YAML config (configs/firstorder_*.yaml)')
    parser.add_argument('-o', '--opt', nargs='+', default=[], action='extend', metavar='KEY=VALUE',
                        help='override config entries, e.g. -o epochs=10 dataset.train.batch_size=4')
    parser.add_argument('--resume', metavar='CKPT',
                        help='continue training from a checkpoint_last.pdparams (networks, '
                             'optimisers, schedulers, counters, RNG state); writes to its folder')
    parser.add_argument('--load', metavar='WEIGHTS', help='initialise the networks from weights')
    parser.add_argument('--evaluate-only', action='store_true',
                        help='run the reconstruction evaluation on the test split (L1, PSNR, SSIM, '
                             'AKD, AED, missing, each beside the static baseline), write '
                             'metrics.json and exit')
    parser.add_argument('--max-frames', type=int, default=None, metavar='N',
                        help='with --evaluate-only: only the first N frames of each test clip')
    parser.add_argument('--no-face-metrics', action='store_true',
                        help='with --evaluate-only: L1 only (no dlib needed)')
    parser.add_argument('--seed', type=int, default=None, help='random seed (default: cfg.seed or 0)')
    parser.add_argument('--output-dir', default=None,
                        help='run folder (default: output_dir/<config>-<time>, or the resume '
                             "checkpoint's folder)")
    return parser.parse_args(argv)


def main(argv=None, prog=None):
    args = parse_args(argv, prog)
    try:
        cfg = get_config(args.config_file, args.opt)
        if args.evaluate_only and not args.no_face_metrics:
            from ppfom.metrics.face_analysis import check_eval_dependencies
            check_eval_dependencies()  # fail in one line before any work
        from ppfom.engine import Trainer
        from ppfom.engine.trainer import read_resume_checkpoint
        # check the resume file before the run folder is touched (config.yaml, log.txt)
        resume_state = read_resume_checkpoint(args.resume, cfg) if args.resume else None
        run_dir = args.output_dir or (os.path.dirname(os.path.abspath(args.resume))
                                      if args.resume else None)
        trainer = Trainer(cfg, args.config_file, seed=args.seed, run_dir=run_dir,
                          evaluate_only=args.evaluate_only)
        if args.load:
            trainer.load(args.load)
        if args.resume:
            trainer.resume(args.resume, resume_state)
        if args.evaluate_only:
            metrics = trainer.evaluate(face=not args.no_face_metrics,
                                       max_frames=args.max_frames)
            if trainer.rank == 0:
                from ppfom.metrics.report import format_metrics
                print(format_metrics(metrics))
                print(f"wrote {os.path.join(trainer.run_dir, 'metrics.json')}", flush=True)
            return 0
        trainer.train()
        if trainer.stopped_by:
            name = 'interrupted (Ctrl-C)' if trainer.stopped_by == signal.SIGINT else 'terminated'
            print(f'error: {name}: checkpoint saved; continue with --resume '
                  f"{os.path.join(trainer.run_dir, 'checkpoint_last.pdparams')}", file=sys.stderr)
            return 128 + trainer.stopped_by
    except KeyboardInterrupt:
        print('error: interrupted (Ctrl-C) before a checkpoint was saved', file=sys.stderr)
        return 130
    except (ConfigError, DatasetError, CheckpointError, PerceptualWeightsError, KeyError,
            TypeError, ValueError, EvalDependencyError, OSError) as exc:
        if os.environ.get('PPFOM_DEBUG'):
            raise
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f'error: {msg} (set PPFOM_DEBUG=1 for the traceback)', file=sys.stderr)
        return 2
    return 0
