"""--face_enhancement end to end with a small GPEN (random weights): faces change, the rest stays."""
import numpy as np
import paddle

from ppfom.apps import FirstOrderPredictor
from ppfom.faceutils.face_enhancement import GPEN
from ppfom.utils.image_io import read_image
from ppfom.utils.video import VideoReader

from helpers import write_small_model

SMALL_GPEN = dict(size=64, style_dim=64, n_mlp=2, channel_multiplier=1)


def test_enhancer_restores_each_animated_face(fixtures_dir, data_dir, tmp_path):
    config, weights = write_small_model(fixtures_dir, str(tmp_path))
    paddle.seed(0)
    gpen_weights = str(tmp_path / 'gpen64.pdparams')
    paddle.save(GPEN(**SMALL_GPEN).state_dict(), gpen_weights)
    photo_path = f'{data_dir}/images/opencv_messi5.jpg'
    driving = f'{data_dir}/videos/lp_d2.mp4'
    common = dict(config=config, weight_path=weights, image_size=128, relative=True,
                  adapt_scale=True, batch_size=5, progress=False)
    plain = FirstOrderPredictor(output=str(tmp_path / 'plain'), **common).run(photo_path, driving)
    enhanced = FirstOrderPredictor(output=str(tmp_path / 'enhanced'), face_enhancement=True,
                                   enhancer={'name': 'gpen', **SMALL_GPEN},
                                   enhancer_weights=gpen_weights, **common).run(photo_path, driving)
    a = np.concatenate(list(VideoReader(plain).batches(16)))
    b = np.concatenate(list(VideoReader(enhanced).batches(16)))
    photo = read_image(photo_path)
    assert a.shape == b.shape == (16, 342 + 0, 548, 3)
    face_changed = np.abs(a.astype(int) - b.astype(int)).max(axis=3) > 20
    assert face_changed.mean() > 0.002  # the enhancer did change the pasted face
    untouched = np.abs(b.astype(int) - photo.astype(int)).max(axis=3).max(axis=0) <= 12
    assert untouched.mean() > 0.8  # away from the face the photo is kept
