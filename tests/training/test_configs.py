"""Every training config builds its model and data pipeline (VGG19 switched off: offline)."""
import glob
import os

import pytest

from conftest import ROOT

from ppfom.engine.trainer import check_config
from ppfom.models import build_model
from ppfom.utils.config import get_config, to_dict

TRAIN_CONFIGS = sorted(p for p in glob.glob(os.path.join(ROOT, 'configs', 'firstorder_*.yaml'))
                       if 'dataset' in get_config(p))


def test_the_issue_configs_are_there():
    names = {os.path.basename(p) for p in TRAIN_CONFIGS}
    assert {'firstorder_vox_256.yaml', 'firstorder_vox_512.yaml', 'firstorder_fashion_256.yaml',
            'firstorder_taichi_256.yaml', 'firstorder_mgif_256.yaml', 'firstorder_bundled.yaml',
            'firstorder_test_tiny.yaml'} <= names


@pytest.mark.parametrize('path', TRAIN_CONFIGS, ids=os.path.basename)
def test_config_builds(path):
    cfg = get_config(path, ['model.train_params.loss_weights.perceptual=[0, 0, 0, 0, 0]',
                            'model.train_params.loss_weights.reconstruction_l1=10'])
    check_config(cfg)
    model = build_model(to_dict(cfg.model))
    frame_shape = cfg.dataset.train.frame_shape
    assert frame_shape[0] == frame_shape[1] and frame_shape[0] % 64 == 0
    disc_blocks = cfg.model.discriminator.discriminator_cfg.num_blocks
    assert len(cfg.model.train_params.loss_weights.feature_matching) == disc_blocks
    assert model.micro_batches >= 1


def test_bundled_script_links_the_listed_clips_and_holds_out_the_test_ones(tmp_path, data_dir):
    import subprocess
    run = tmp_path / 'bundled'
    env = dict(os.environ, RUN=str(run), VIDEOS=os.path.join(data_dir, 'videos'), SETUP_ONLY='1')
    subprocess.run([os.path.join(ROOT, 'tools', 'train_bundled.sh')], env=env, check=True,
                   capture_output=True)
    cfg = get_config(os.path.join(ROOT, 'configs', 'firstorder_bundled.yaml'))
    train = sorted(os.listdir(run / 'data' / 'train'))
    test = sorted(os.listdir(run / 'data' / 'test'))
    assert train == sorted(cfg.dataset.train.videos) and test == sorted(cfg.dataset.test.videos)
    assert not set(train) & set(test) and 'lp_d12.mp4' in test
    for name in train:
        link = run / 'data' / 'train' / name
        assert link.is_symlink() and os.path.samefile(link, os.path.join(data_dir, 'videos', name))


def test_an_override_replaces_a_list_of_transforms_with_attribute_access():
    # the talk model's augmentation arm replaces the whole transform list from the command line
    cfg = get_config(os.path.join(ROOT, 'configs', 'firstorder_talk.yaml'), [
        'dataset.train.transforms=[{name: PairedRandomHorizontalFlip, prob: 0.5}, '
        '{name: PairedColorJitter, brightness: 0.3, contrast: 0.3, saturation: 0.6, hue: 0.5}]'])
    transforms = cfg.dataset.train.transforms
    assert [t.name for t in transforms] == ['PairedRandomHorizontalFlip', 'PairedColorJitter']
    assert transforms[1].hue == 0.5 and transforms[1]['saturation'] == 0.6
