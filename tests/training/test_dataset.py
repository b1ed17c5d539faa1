"""FirstOrderDataset on real frames: layout, sampling, augmentation, bad input."""
import os
import shutil

import numpy as np
import pytest

from ppfom.datasets import FirstOrderDataset, read_video
from ppfom.datasets.augmentation import ColorJitter, PairedAugmentation
from ppfom.datasets.firstorder_dataset import DatasetError, iter_frames
from ppfom.utils.video import VideoReader

from conftest import decode, write_mp4


def make(root, **kw):
    return FirstOrderDataset(root, frame_shape=(64, 64, 3), **kw)


def test_train_items_are_frame_pairs_of_the_clips(tiny_dataroot):
    ds = make(tiny_dataroot, num_repeats=3, time_flip=False)
    assert len(ds) == 6  # 2 clips (a video file and a frame folder) x 3 repeats
    clips = [read_video(p, (64, 64, 3)) for p in ds.videos]
    assert [os.path.basename(p) for p in ds.videos] == ['lp_d1.mp4', 'lp_d2']
    for idx in range(len(ds)):
        item = ds[idx]
        assert item['source'].shape == item['driving'].shape == (3, 64, 64)
        assert item['source'].dtype == np.float32 and 0 <= item['source'].min() <= 1
        clip = clips[idx % 2]
        for key in ('source', 'driving'):  # each is one of the clip's frames (no augmentation)
            err = np.abs(clip - item[key].transpose(1, 2, 0)[None]).mean(axis=(1, 2, 3)).min()
            assert err < 1e-6
    again = ds[4]
    np.testing.assert_array_equal(again['driving'], ds[4]['driving'])  # keyed on the index
    assert again['seed'] == ds[4]['seed'] != ds[10]['seed']


def test_test_items_are_whole_clips(tiny_dataroot):
    ds = make(tiny_dataroot, phase='test')
    assert len(ds) == 2 and ds[1]['name'] == 'lp_d2.mp4' and ds[1]['video'].shape == (8, 3, 64, 64)


def test_id_sampling_groups_clips_by_identity(tiny_dataroot, tmp_path):
    root = tmp_path / 'ids'
    shutil.copytree(os.path.join(tiny_dataroot, 'train'), root / 'train')
    os.rename(root / 'train' / 'lp_d1.mp4', root / 'train' / 'alice#1.mp4')
    os.rename(root / 'train' / 'lp_d2', root / 'train' / 'alice#2')
    ds = make(str(root), id_sampling=True, num_repeats=1)
    assert len(ds) == 1 and len(ds.items[0]) == 2


def test_paired_augmentation_is_shared_by_both_frames():
    rng = np.random.default_rng(0)
    frame = rng.random((16, 16, 3)).astype(np.float32)
    aug = PairedAugmentation(flip_prob=1.0, time_flip=False,
                             jitter=dict(brightness=0.1, contrast=0.1, saturation=0.1, hue=0.1))
    a, b = aug([frame, frame.copy()], np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    mirrored = PairedAugmentation(flip_prob=1.0, time_flip=False)([frame], rng)[0]
    np.testing.assert_array_equal(mirrored, frame[:, ::-1])
    first, second = PairedAugmentation(0.0, time_flip=True)([frame, frame * 0], _AlwaysLow())
    np.testing.assert_array_equal(second, frame)  # reversed clip
    np.testing.assert_array_equal(first, frame * 0)
    hue_only = ColorJitter(hue=0.5)([frame], np.random.default_rng(1))[0]
    assert hue_only.min() >= 0 and hue_only.max() <= 1
    # a hue rotation keeps value (max) and chroma (max - min) of every pixel
    np.testing.assert_allclose(hue_only.max(axis=2), frame.max(axis=2), atol=2e-3)
    np.testing.assert_allclose(hue_only.max(axis=2) - hue_only.min(axis=2),
                               frame.max(axis=2) - frame.min(axis=2), atol=2e-3)
    assert np.abs(hue_only - frame).max() > 0.05  # and it did change the colours


class _AlwaysLow:
    def random(self):
        return 0.0


def test_empty_video_is_skipped_with_a_warning(tiny_dataroot, tmp_path):
    root = tmp_path / 'broken'
    shutil.copytree(os.path.join(tiny_dataroot, 'train'), root / 'train')
    (root / 'train' / 'empty.mp4').write_bytes(b'')
    (root / 'train' / 'no_frames').mkdir()
    with pytest.warns(UserWarning) as record:
        ds = make(str(root))
    messages = ' '.join(str(w.message) for w in record)
    assert 'empty.mp4' in messages and 'no_frames' in messages
    assert [os.path.basename(p) for p in ds.videos] == ['lp_d1.mp4', 'lp_d2']


def test_nothing_readable_is_an_error(tmp_path):
    (tmp_path / 'train').mkdir()
    (tmp_path / 'train' / 'empty.mp4').write_bytes(b'')
    with pytest.warns(UserWarning, match='empty.mp4'):
        with pytest.raises(DatasetError, match='no readable video in'):
            make(str(tmp_path))


def test_dataroot_without_train_is_an_error(tmp_path):
    with pytest.raises(DatasetError, match="has no 'train/' folder"):
        make(str(tmp_path))


def test_non_square_video_is_centre_cropped(data_dir, tmp_path):
    frames = decode(os.path.join(data_dir, 'videos', 'lp_d1.mp4'), frames=2, size=64)
    wide = np.concatenate([np.zeros((2, 64, 16, 3), np.uint8), frames,
                           np.zeros((2, 64, 16, 3), np.uint8)], axis=2)  # 96x64, black bars
    write_mp4(str(tmp_path / 'wide.mp4'), wide)
    video = read_video(str(tmp_path / 'wide.mp4'), (64, 64, 3))
    assert video.shape == (2, 64, 64, 3)
    assert np.abs(video * 255 - frames).mean() < 6  # bars cropped away (codec noise only)


@pytest.mark.parametrize('name,count', [('paddlegan_mona7s.mp4', 211), ('opencv_megamind.avi', 270)])
def test_training_decodes_the_frames_inference_decodes(data_dir, name, count):
    """Variable-frame-rate files: the dataset sees every frame once, the same frames as the
    predictor (ffmpeg's default raw output, which imageio's reader used, gives 212 and 271)."""
    path = f'{data_dir}/videos/{name}'
    training = list(iter_frames(path))
    assert len(training) == count
    inference = list(VideoReader(path).frames())
    assert len(inference) == count
    for i in (0, count // 2, count - 1):
        assert np.array_equal(training[i], inference[i])
