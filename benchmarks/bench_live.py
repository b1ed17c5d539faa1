"""Live animation on this CPU: frames per second delivered, end-to-end latency (capture to
output, median and 95th percentile), dropped share and memory over time.

Each run is a child process (its memory is its own) playing a driving clip in a loop at a fixed
frame rate through :class:`ppfom.apps.live.FileSource`, as a camera would deliver it, into
:class:`ppfom.apps.live.LiveAnimator` (the photo ``lp_s4.jpg``, face crop and paste-back,
relative motion and adapted scale) with no output but the counting. The first ``--warmup``
seconds are not counted. Models: the default bundled one (``ppfom-talk64``, its own weights),
``ppfom-face64`` (the previous default; ``--models bundled ppfom-face64 vox256``) and vox-256
(seeded random weights: the speed is the architecture's). Compare models within one run: this
shared CPU's speed varies by up to 1.6x between runs an hour apart.

    python benchmarks/bench_live.py                        # 25 and 30 fps, 20 s each
    python benchmarks/bench_live.py --seconds 120 --fps 25 # the long run: boundedness, memory
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from common import DATA, ROOT

MODELS = ('bundled', 'ppfom-face64', 'vox256')   # bundled: the default model (ppfom-talk64)


def rss_mb():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2 ** 20


def worker(args):
    import numpy as np
    from ppfom.apps import FirstOrderPredictor
    from ppfom.apps.live import FileSource, LiveAnimator, LiveStats
    model = (dict(config=os.path.join(ROOT, 'configs', 'firstorder_vox_256.yaml'),
                  weight_path=args.weights) if args.model == 'vox256'
             else {'model': args.model} if args.model != 'bundled' else {})
    predictor = FirstOrderPredictor(relative=True, adapt_scale=True, progress=False,
                                    backend=args.backend, **model)
    live = LiveAnimator(predictor, args.source)
    live.start(FileSource(args.video, fps=args.fps, loop=True))
    live.wait(args.warmup)
    live.stats = stats = LiveStats()  # count from here
    started = time.monotonic()
    samples = []  # (seconds, RSS MiB, latency median over the last period, fps)
    next_sample, period = 0.0, max(args.seconds / 12, 5.0)
    last_count = 0
    while True:
        elapsed = time.monotonic() - started
        if elapsed >= next_sample:
            values = list(stats.latencies)[last_count:]
            last_count = len(stats.latencies)
            samples.append((round(elapsed, 1), round(rss_mb(), 1),
                            round(1000 * float(np.median(values)), 1) if values else None))
            next_sample += period
        if elapsed >= args.seconds:
            break
        live.wait(min(0.5, args.seconds - elapsed))
    live.stop()
    elapsed = time.monotonic() - started
    median, p95 = stats.latency()
    print(json.dumps({
        'model': args.model, 'fps_in': args.fps, 'seconds': round(elapsed, 1),
        'fps_out': stats.delivered / elapsed, 'latency_median_ms': 1000 * median,
        'latency_p95_ms': 1000 * p95, 'latency_max_ms': 1000 * max(stats.latencies),
        'dropped': stats.dropped_share(), 'backend': type(predictor.backend).__name__,
        'samples': samples}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--models', nargs='+', default=['bundled', 'vox256'], choices=MODELS)
    parser.add_argument('--fps', nargs='+', type=float, default=[25, 30])
    parser.add_argument('--seconds', type=float, default=20, help='counted seconds per run')
    parser.add_argument('--warmup', type=float, default=4)
    parser.add_argument('--video', default=os.path.join(DATA, 'videos', 'lp_d12.mp4'))
    parser.add_argument('--source', default=os.path.join(DATA, 'images', 'lp_s4.jpg'))
    parser.add_argument('--backend', default='auto')
    parser.add_argument('--json', default=None, help='also write the results to this file')
    parser.add_argument('--model', help=argparse.SUPPRESS)
    parser.add_argument('--weights', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.model:
        args.fps = args.fps[0]
        return worker(args)

    weights = None
    if 'vox256' in args.models:
        from bench_inference import random_weights
        from ppfom.utils.config import load_config
        weights = os.path.join(tempfile.mkdtemp(prefix='ppfom-bench-live-'), 'random.pdparams')
        random_weights(load_config(os.path.join(ROOT, 'configs', 'firstorder_vox_256.yaml'))
                       .model, weights)
    results = []
    for model in args.models:
        for fps in args.fps:
            cmd = [sys.executable, __file__, '--model', model, '--fps', str(fps),
                   '--seconds', str(args.seconds), '--warmup', str(args.warmup), '--video',
                   args.video, '--source', args.source, '--backend', args.backend]
            if weights:
                cmd += ['--weights', weights]
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode:
                raise SystemExit(f'{model} at {fps} fps failed:\n{out.stderr[-3000:]}')
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(results[-1], flush=True)
    print(f'\n{os.path.basename(args.video)} looped, photo {os.path.basename(args.source)}, '
          f'{args.seconds:g} s counted after {args.warmup:g} s, {os.cpu_count()} CPUs\n')
    print('| model (backend) | input fps | delivered fps | latency median / p95 / max (ms) '
          '| dropped | RSS first -> last (MiB) | latency median per period (ms) |')
    print('|---|---|---|---|---|---|---|')
    for r in results:
        rss = [s[1] for s in r['samples']]
        periods = ' '.join(str(round(s[2])) for s in r['samples'] if s[2] is not None)
        print(f'| {r["model"]} ({r["backend"]}) | {r["fps_in"]:g} | {r["fps_out"]:.1f} '
              f'| {r["latency_median_ms"]:.0f} / {r["latency_p95_ms"]:.0f} / '
              f'{r["latency_max_ms"]:.0f} | {100 * r["dropped"]:.0f}% '
              f'| {rss[0]:.0f} -> {rss[-1]:.0f} | {periods} |')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=1)


if __name__ == '__main__':
    main()
