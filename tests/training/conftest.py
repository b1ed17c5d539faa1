"""Fixtures for the training tests: a tiny dataroot made of real frames from ../shared/data."""
import os

import cv2
import imageio
import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY_CONFIG = os.path.join(ROOT, 'configs', 'firstorder_test_tiny.yaml')
SIZE = 64
FRAMES = 8


def decode(path, frames=FRAMES, size=SIZE):
    """First ``frames`` frames of a real clip, resized to ``size`` (uint8 ``(T, size, size, 3)``)."""
    reader = imageio.v2.get_reader(path)
    out = []
    for i, frame in enumerate(reader):
        if i == frames:
            break
        out.append(cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA))
    reader.close()
    return np.stack(out)


def write_mp4(path, frames):
    imageio.mimwrite(path, list(frames), fps=10, macro_block_size=1, quality=9)


@pytest.fixture(scope='session')
def tiny_dataroot(tmp_path_factory, data_dir):
    """``train/``: ``lp_d1.mp4`` (video file) and ``lp_d2/`` (folder of png frames);
    ``test/``: ``lp_d1.mp4`` and ``lp_d2.mp4``. 8 frames of 64x64 each, from the real clips."""
    root = tmp_path_factory.mktemp('tiny_data')
    clips = {name: decode(os.path.join(data_dir, 'videos', f'{name}.mp4'))
             for name in ('lp_d1', 'lp_d2')}
    (root / 'train').mkdir()
    (root / 'test').mkdir()
    write_mp4(str(root / 'train' / 'lp_d1.mp4'), clips['lp_d1'])
    (root / 'train' / 'lp_d2').mkdir()
    for i, frame in enumerate(clips['lp_d2']):
        imageio.imwrite(str(root / 'train' / 'lp_d2' / f'{i:04d}.png'), frame)
    for name, frames in clips.items():
        write_mp4(str(root / 'test' / f'{name}.mp4'), frames)
    return str(root)


@pytest.fixture()
def tiny_opts(tiny_dataroot, tmp_path):
    """``-o`` overrides pointing the tiny config at the tiny dataroot and a temporary output."""
    return [f'dataset.train.dataroot={tiny_dataroot}', f'dataset.test.dataroot={tiny_dataroot}',
            f'output_dir={tmp_path / "out"}']
