"""Speed of the bundled model's kind (configs/firstorder_talk.yaml: keypoints measured from FaceMesh
landmarks, 64 px networks, frames composed at 256 px) on the eager backend and on Paddle Inference
in fp32 and bf16, side by side in one run on the same weights, landmarks and frames.

Every path animates the same source with the same driving landmarks (relative motion, adapted
scale), after one untimed warm-up batch; the time covers the keypoints from landmarks, the source
encoding, the normalisation and the generator (not FaceMesh, not the video decoding). PSNR and
max abs difference are against the first path (eager).

    python benchmarks/bench_bundled.py                               # seeded random weights
    python benchmarks/bench_bundled.py --weights RUN/weights_iter_0000560.pdparams
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from bench_inference import _normalise, psnr, random_weights, read_frames, read_image  # noqa: E402
from common import DATA, ROOT  # noqa: E402

DEFAULT_PATHS = ['eager:4', 'inference-fp32:1', 'inference-bf16:1']


def facemesh_landmarks(images):
    """FaceMesh landmarks of ``(N, 3, S, S)`` frames in [0, 1] (one video), as ``(N, 468, 2)``
    in [-1, 1]; exits when a frame has no face."""
    from ppfom.faceutils.face_landmarks import build_landmarker
    size = images.shape[-1]
    rgb = (images.transpose(0, 2, 3, 1) * 255).round().astype(np.uint8)
    points = build_landmarker('facemesh').track(list(rgb))[0]
    if not np.isfinite(points).all():
        raise SystemExit('FaceMesh found no face in some frames; pick another video or source')
    return (2 * points[..., :2] / (size - 1) - 1).astype(np.float32)


def make_path_backend(path, model_cfg, weights, network, output, threads, cache):
    kind, _, batch = path.partition(':')
    if kind == 'eager':
        from ppfom.inference import EagerBackend
        from ppfom.models.networks import load_networks
        return EagerBackend(*load_networks(model_cfg, weights)), int(batch or 1)
    from ppfom.inference.paddle_inference import load_inference_backend
    backend = load_inference_backend(model_cfg, weights, network, precision=kind.split('-')[1],
                                     threads=threads, batch_size=int(batch or 1),
                                     cache_root=cache, output_size=output)
    return backend, int(batch or 1)


def run(backend, inputs, batch):
    """The predictor's loop on landmarks; returns the frames ``(N, 3, out, out)``."""
    kp_source = backend.keypoints(inputs['source_landmarks'])
    backend.set_source(inputs['source_small'], kp_source, inputs['source_large'])
    landmarks, kp_initial, out = inputs['landmarks'], None, []
    for i in range(0, len(landmarks), batch):
        kp = backend.keypoints(landmarks[i:i + batch])
        kp_initial = kp_initial or {k: v[:1] for k, v in kp.items()}
        out.append(backend.animate(_normalise(kp_source, kp, kp_initial)))
    return np.concatenate(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--config', default=os.path.join(ROOT, 'configs', 'firstorder_talk.yaml'))
    parser.add_argument('--weights', default=None,
                        help='trained weights (default: seeded random ones of the config)')
    parser.add_argument('--video', default=os.path.join(DATA, 'videos', 'tpsmm_driving.mp4'))
    parser.add_argument('--source', default=os.path.join(DATA, 'images', 'tpsmm_source.png'))
    parser.add_argument('--frames', type=int, default=32)
    parser.add_argument('--network_size', type=int, default=64)
    parser.add_argument('--output_size', type=int, default=256)
    parser.add_argument('--threads', type=int, default=os.cpu_count())
    parser.add_argument('--paths', nargs='+', default=DEFAULT_PATHS,
                        help='eager:B, inference-fp32:B, inference-bf16:B (B frames per run)')
    parser.add_argument('--repeats', type=int, default=2,
                        help='timed passes of each path (the best is reported)')
    args = parser.parse_args()

    import paddle
    from ppfom.utils.config import load_config
    workdir = tempfile.mkdtemp(prefix='ppfom-bench-bundled-')
    model_cfg = load_config(args.config).model
    weights = args.weights or os.path.join(workdir, 'weights.pdparams')
    if args.weights is None:
        random_weights(model_cfg, weights)
    large = read_frames(args.video, args.frames, args.output_size)
    source_large = read_image(args.source, args.output_size)
    small_of = lambda x: paddle.nn.functional.interpolate(  # noqa: E731
        paddle.to_tensor(x), size=(args.network_size,) * 2, mode='area').numpy()
    inputs = {'landmarks': facemesh_landmarks(large),
              'source_landmarks': facemesh_landmarks(source_large),
              'source_small': small_of(source_large), 'source_large': source_large}
    cache = os.path.join(workdir, 'exports')

    results, reference = [], None
    for path in args.paths:
        t = time.perf_counter()
        try:
            backend, batch = make_path_backend(path, model_cfg, weights, args.network_size,
                                               args.output_size, args.threads, cache)
        except ValueError as exc:            # e.g. bf16 on a CPU without it
            print(f'# {path}: skipped ({exc})', file=sys.stderr)
            continue
        ready = time.perf_counter() - t
        run(backend, dict(inputs, landmarks=inputs['landmarks'][:batch]), batch)   # warm-up
        times = []
        for _ in range(max(1, args.repeats)):
            t = time.perf_counter()
            out = run(backend, inputs, batch)
            times.append(time.perf_counter() - t)
        reference = out if reference is None else reference
        ms = min(times) / len(out) * 1000
        results.append((path, batch, ms, psnr(out, reference),
                        float(np.abs(out - reference).max()), ready))
        print(f'# {path}: {ms:.1f} ms/frame', file=sys.stderr)

    print(f'\n{len(inputs["landmarks"])} frames of {os.path.basename(args.video)}, '
          f'{os.path.basename(args.config)} '
          f'({"weights " + os.path.basename(weights) if args.weights else "random weights"}), '
          f'networks {args.network_size} px, output {args.output_size} px, {args.threads} '
          f'threads, paddle {paddle.__version__}\n')
    print('| path | batch | ms/frame | frames/s | PSNR vs first (dB) | max abs diff | '
          'load + export (s) |')
    print('|---|---|---|---|---|---|---|')
    for path, batch, ms, db, diff, ready in results:
        print(f'| {path.partition(":")[0]} | {batch} | {ms:.1f} | {1000 / ms:.1f} | {db:.1f} | '
              f'{diff:.1e} | {ready:.1f} |')


if __name__ == '__main__':
    main()
