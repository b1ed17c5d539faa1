"""Measure training throughput (samples/s) of a config for a fixed wall time.

    python benchmarks/bench_train_speed.py -c configs/firstorder_bundled.yaml --seconds 120 \
        -o dataset.train.dataroot=output/runs/bundled/data

Builds the real :class:`ppfom.engine.Trainer` (data loader, model, optimisers) and runs
``train_iter`` until ``--seconds`` have passed; the first ``--warmup`` iterations are not timed.
Prints one JSON line with the config's sizes and the measured speed.
"""
import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppfom.engine import Trainer  # noqa: E402
from ppfom.utils.config import get_config  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('-c', '--config-file', required=True)
    parser.add_argument('-o', '--opt', nargs='+', default=[], action='extend')
    parser.add_argument('--seconds', type=float, default=120)
    parser.add_argument('--warmup', type=int, default=2)
    args = parser.parse_args()
    cfg = get_config(args.config_file, args.opt)
    cfg['total_iters'] = 10 ** 9
    trainer = Trainer(cfg, args.config_file, run_dir=tempfile.mkdtemp(prefix='bench_'))
    model = trainer.model
    model.train()
    batch_size = int(cfg.dataset.train.batch_size)
    done, t0, start = 0, None, time.time()
    losses = {}
    while True:
        trainer.sampler.set_epoch(trainer.epoch)
        for batch in trainer.loader:
            losses = model.train_iter(batch)
            done += 1
            if done == args.warmup:
                t0 = time.time()
            if t0 is not None and time.time() - t0 >= args.seconds:
                break
        else:
            trainer.epoch += 1
            continue
        break
    timed = done - args.warmup
    elapsed = time.time() - t0
    params = {name: sum(int(p.size) for p in net.parameters())
              for name, net in model.nets.items()}
    print(json.dumps({'config': os.path.basename(args.config_file), 'overrides': args.opt,
                      'frame_shape': list(cfg.dataset.train.frame_shape),
                      'batch_size': batch_size, 'iterations': timed, 'seconds': round(elapsed, 1),
                      's_per_iter': round(elapsed / max(timed, 1), 3),
                      'samples_per_s': round(timed * batch_size / elapsed, 2),
                      'params': params, 'last_losses': {k: round(v, 4) for k, v in losses.items()},
                      'setup_seconds': round(t0 - start, 1)}))


if __name__ == '__main__':
    main()
