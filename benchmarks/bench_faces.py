"""Time per frame of the face pipeline for one face vs every face of the five-face painting.

    python benchmarks/bench_faces.py [--model ppfom-face64 | --config C --weight_path W]
        [--frames 48] [--batch_size 4] [--backend auto]

Both runs animate ``paddlegan_multi_person_5faces.jpg`` with the first ``--frames`` frames of
``lp_d12.mp4`` in one process (models loaded once, warm-up excluded) and report wall ms per
driving frame, including detection, tracking, decoding, pasting and encoding.
"""
import argparse
import os

from common import add_run_options, sample_inputs, timed_run


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--model', default=None)
    parser.add_argument('--config', default=None)
    parser.add_argument('--weight_path', default=None)
    parser.add_argument('--frames', type=int, default=48)
    add_run_options(parser)
    args = parser.parse_args()
    from ppfom.apps import FirstOrderPredictor
    tmp, clip, photo = sample_inputs('paddlegan_multi_person_5faces.jpg', 'lp_d12.mp4',
                                     args.frames, 'ppfom-faces-')
    rows = []
    for faces, multi in (('1 (largest)', False), ('all 5', True)):
        predictor = FirstOrderPredictor(output=tmp, filename=f'{multi}.mp4', model=args.model,
                                        config=args.config, weight_path=args.weight_path,
                                        relative=True, adapt_scale=True, multi_person=multi,
                                        batch_size=args.batch_size, backend=args.backend,
                                        progress=False)
        rows.append((faces, 1000 * timed_run(predictor, photo, clip) / args.frames))
    print(f'model {args.model or args.weight_path}, backend {args.backend}, batch {args.batch_size}, '
          f'{args.frames} frames of lp_d12.mp4, {os.cpu_count()} cores')
    print('| faces animated | ms per driving frame |\n|---|---|')
    for faces, ms in rows:
        print(f'| {faces} | {ms:.0f} |')
    print(f'cost per extra face: {(rows[1][1] - rows[0][1]) / 4:.0f} ms '
          f'({(rows[1][1] - rows[0][1]) / 4 / rows[0][1]:.2f}x a single-face frame)')


if __name__ == '__main__':
    main()
