"""--multi_person end to end on the five-face painting: five regions move, the rest stays."""
import importlib.util
import os

import numpy as np

from ppfom.faceutils.face_detection import build_detector
from ppfom.utils.image_io import read_image
from ppfom.utils.video import VideoReader

from helpers import write_small_model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_spec = importlib.util.spec_from_file_location(
    'first_order_demo', os.path.join(ROOT, 'applications', 'tools', 'first-order-demo.py'))
demo = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(demo)


def test_five_faces_move_and_the_rest_of_the_painting_stays(fixtures_dir, data_dir, tmp_path):
    config, weights = write_small_model(fixtures_dir, str(tmp_path))
    painting = f'{data_dir}/images/paddlegan_multi_person_5faces.jpg'
    assert demo.main(['--config', config, '--weight_path', weights, '--image_size', '128',
                      '--source_image', painting, '--driving_video',
                      f'{data_dir}/videos/lp_d1.mp4', '--output', str(tmp_path / 'out'),
                      '--relative', '--adapt_scale', '--multi_person', '--batch_size', '4']) == 0
    frames = np.concatenate(list(VideoReader(str(tmp_path / 'out' / 'result.mp4')).batches(16)))
    photo = read_image(painting)
    assert frames.shape == (16,) + photo.shape
    boxes = build_detector('blazeface').detect(photo)
    assert len(boxes) == 5
    changed = np.abs(frames.astype(int) - photo.astype(int)).max(axis=3).mean(axis=0) > 12
    near = np.zeros(photo.shape[:2], bool)
    for x1, y1, x2, y2, _ in boxes:
        side = max(x2 - x1, y2 - y1)
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        # the pasted disc: radius 0.4 + feather 0.15 of the crop side (2x the face), shifted up
        yy, xx = np.mgrid[0:photo.shape[0], 0:photo.shape[1]]
        near |= np.hypot(xx - cx, yy - (cy - 0.2 * side)) < 1.2 * side
        # each face region really changed
        region = changed[int(cy - side / 4):int(cy + side / 4), int(cx - side / 4):int(cx + side / 4)]
        assert region.mean() > 0.5
    # far from every face the video shows the painting (up to H.264 noise)
    assert changed[~near].mean() < 0.002
