"""Peak memory of the demo on a long driving video vs. its first frames, and ms/frame.

    python benchmarks/bench_memory.py [--config configs/firstorder_vox_256.yaml] [--image_size 256]
        [--video ../shared/data/videos/paddlegan_fom_dv.mp4] [--short 200] [--batch_size 4]

Each run is a separate process (peak RSS = that process's ru_maxrss) animating
``paddlegan_fom_source.png`` with random weights of the given config; the long run uses the whole
video, the short one its first ``--short`` frames (cut losslessly with ffmpeg). A warm-up process
runs first, so that the one-time export of the inference backend is in neither measurement.
Prints a table.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import imageio_ffmpeg

from common import DATA, ROOT, add_run_options, first_frames


def write_random_weights(config, path, seed=0):
    import paddle
    from ppfom.models.networks import build_networks
    from ppfom.utils.config import load_config
    paddle.seed(seed)
    kp_detector, generator = build_networks(load_config(config).model)
    paddle.save({'kp_detector': kp_detector.state_dict(), 'generator': generator.state_dict()}, path)


def run_child(args, video, weights, out_dir):
    """Run the demo in a child process; return (seconds, peak RSS MiB of that child)."""
    code = (
        'import resource, sys, time;'
        f'sys.path.insert(0, {ROOT!r});'
        'from ppfom.apps import FirstOrderPredictor;'
        f'p = FirstOrderPredictor(output={out_dir!r}, config={args.config!r}, '
        f'weight_path={weights!r}, image_size={args.image_size}, batch_size={args.batch_size}, '
        f'backend={args.backend!r}, relative=True, adapt_scale=True, progress=False);'
        't = time.perf_counter();'
        f'p.run({os.path.join(DATA, "images", "paddlegan_fom_source.png")!r}, {video!r});'
        'print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    seconds, rss = out.stdout.split()[-2:]
    return float(seconds), float(rss)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=os.path.join(ROOT, 'configs', 'firstorder_vox_256.yaml'))
    parser.add_argument('--image_size', type=int, default=256)
    parser.add_argument('--video', default=os.path.join(DATA, 'videos', 'paddlegan_fom_dv.mp4'))
    parser.add_argument('--short', type=int, default=200)
    add_run_options(parser)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix='ppfom-bench-')
    weights = os.path.join(tmp, 'random.pdparams')
    write_random_weights(args.config, weights)
    short = first_frames(args.video, args.short, os.path.join(tmp, 'short.mp4'), lossless=True)
    warm = first_frames(args.video, 8, os.path.join(tmp, 'warm.mp4'))
    run_child(args, warm, weights, os.path.join(tmp, 'warm'))
    rows = []
    for label, video in (('short', short), ('long', args.video)):
        frames = imageio_ffmpeg.count_frames_and_secs(video)[0]
        seconds, rss = run_child(args, video, weights, os.path.join(tmp, label))
        rows.append((label, frames, seconds, rss))
    print(f'config {os.path.basename(args.config)}, image_size {args.image_size}, '
          f'batch_size {args.batch_size}, backend {args.backend}, {os.cpu_count()} cores')
    print('| run | frames | wall s | ms/frame (incl. decode+encode) | peak RSS MiB |')
    print('|---|---|---|---|---|')
    for label, frames, seconds, rss in rows:
        print(f'| {label} | {frames} | {seconds:.1f} | {1000 * seconds / frames:.1f} | {rss:.0f} |')
    print(f'peak RSS long/short: {rows[1][3] / rows[0][3]:.3f}')


if __name__ == '__main__':
    main()
