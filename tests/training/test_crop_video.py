"""tools/crop_video.py on a made-up uncropped video of real clips: split at the cuts, cropped to the
face, shots too short or without a face left out."""
import os
import subprocess
import sys

import imageio
import numpy as np

from conftest import ROOT, decode


def test_shots_become_face_crops(data_dir, tmp_path):
    canvas = lambda frames: np.pad(frames, ((0, 0), (20, 20), (60, 40), (0, 0)))  # noqa: E731
    shot_a = canvas(decode(os.path.join(data_dir, 'videos', 'lp_d12.mp4'), frames=40, size=320))
    shot_b = canvas(decode(os.path.join(data_dir, 'videos', 'fomdemo_2.mp4'), frames=35,
                           size=320))
    ramp = np.tile(np.linspace(0, 255, shot_a.shape[2], dtype=np.uint8)[None, :, None],
                   (shot_a.shape[1], 1, 3))
    no_face = np.repeat(ramp[None], 32, axis=0)
    short = no_face[:10]                                   # under --min_frames
    video = np.concatenate([shot_a, no_face, shot_b, short])
    path = tmp_path / 'wide.mp4'
    imageio.mimwrite(str(path), list(video), fps=25, macro_block_size=1, quality=9)
    out = subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'crop_video.py'), str(path),
                          '--out', str(tmp_path / 'clips'), '--size', '128'],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert 'shot 1 (frames 40-71): no face, skipped' in out.stdout, out.stdout
    clips = sorted(os.listdir(tmp_path / 'clips'))
    assert clips == ['wide_0.mp4', 'wide_2.mp4']
    for name, frames in zip(clips, (40, 35)):
        got = np.stack(imageio.mimread(str(tmp_path / 'clips' / name)))
        assert got.shape == (frames, 128, 128, 3)
        # the crop holds the face, not the black canvas around the 320 px clip
        assert got.mean() > 40
