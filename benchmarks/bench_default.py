"""End-to-end speed of the default command for one face, for the bundled models side by side in
one run (issue 11's goal: at least 12 frames/s on this CPU).

    python benchmarks/bench_default.py [--models ppfom-face64 ppfom-talk64] [--frames 120]
        [--face_backends auto eager] [--configs candidate.yaml ...]

Each model animates ``lp_s6.jpg`` with the first ``--frames`` frames of ``lp_d12.mp4`` through
``FirstOrderPredictor`` with its defaults (relative motion, adapted scale, backend ``auto``,
head paste), in one process; a first untimed run exports the networks and warms the caches. The
time covers everything the command does after loading: reading, face detection, driving crop
and tracking (FaceMesh landmarks where the model or the paste needs them), keypoints,
generation, paste and encoding with audio. ``--face_backends``: each model is run once per
entry, with the face detector and landmarker networks as ppfom runs them by default (``auto``: a
compiled Paddle Inference program on a CPU) and as eager Paddle (``eager``, ppfom 0.1's way).
``--configs``: candidate architectures (e.g. the talk model at 128 px frames) run by
``--config``, with seeded random weights (the speed is the architecture's), beside the models.
"""
import argparse
import os

from common import add_run_options, face_networks, sample_inputs, timed_run


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--models', nargs='+', default=['ppfom-face64', 'ppfom-talk64'])
    parser.add_argument('--frames', type=int, default=120)
    parser.add_argument('--paste', default='head')
    parser.add_argument('--face_backends', nargs='+', default=['auto', 'eager'])
    parser.add_argument('--configs', nargs='+', default=[],
                        help='also run these configs with seeded random weights')
    add_run_options(parser, batch_size=1)
    args = parser.parse_args()
    from ppfom.apps import FirstOrderPredictor
    tmp, clip, photo = sample_inputs('lp_s6.jpg', 'lp_d12.mp4', args.frames, 'ppfom-default-')
    rows = []
    runs = [(model, {'model': model}) for model in args.models]
    for config in args.configs:
        from bench_inference import random_weights
        from ppfom.utils.config import load_config
        weights = os.path.join(tmp, os.path.splitext(os.path.basename(config))[0] + '.pdparams')
        random_weights(load_config(config).model, weights)
        runs.append((os.path.basename(config), {'config': config, 'weight_path': weights}))
    for model, model_args in runs:
        for faces in args.face_backends:
            with face_networks(faces):
                predictor = FirstOrderPredictor(output=tmp, relative=True,
                                                adapt_scale=True, batch_size=args.batch_size,
                                                backend=args.backend, paste=args.paste,
                                                progress=False, **model_args)
                seconds = timed_run(predictor, photo, clip)
            rows.append((model, predictor.backend.name, faces, seconds, args.frames / seconds))
    print('| model | backend | face networks | frames | seconds | frames/s |\n'
          '|---|---|---|---|---|---|')
    for model, backend, faces, seconds, fps in rows:
        print(f'| {model} | {backend} | {faces} | {args.frames} | {seconds:.1f} | {fps:.1f} |')


if __name__ == '__main__':
    main()
