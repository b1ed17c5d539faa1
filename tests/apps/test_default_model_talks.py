"""The README's command with the bundled default model makes a photo talk (issue 11's CI check):
a real clip in which the driver opens and closes the mouth drives a painted portrait through
``first-order-demo.py`` with no model flags, and the result's mouth opens and closes with the
driver's, measured with the project's own FaceMesh landmarker (inner-lip gap over the distance
between the outer eye corners, frame by frame)."""
import os
import subprocess
import sys

import imageio.v3 as iio
import numpy as np

from ppfom.apps.landmarks import FaceLandmarks
from ppfom.utils.video import VideoReader

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(ROOT, 'applications', 'tools', 'first-order-demo.py')
FRAMES = 36   # fomdemo_2: the mouth opens wide (frames 6-18), closes, opens again


def mouth_opening(frames):
    """``(T,)`` inner-lip gap (FaceMesh 13-14) / outer eye corners' distance (33-263)."""
    marks = FaceLandmarks().of_driving(np.stack(frames))
    assert np.isfinite(marks).all(), 'FaceMesh lost the face'
    return (np.linalg.norm(marks[:, 13] - marks[:, 14], axis=1)
            / np.linalg.norm(marks[:, 33] - marks[:, 263], axis=1))


def test_the_default_command_opens_the_photos_mouth_with_the_drivers(data_dir, tmp_path):
    driving = [frame for _, frame in zip(range(FRAMES),
                                         iio.imiter(f'{data_dir}/videos/fomdemo_2.mp4'))]
    clip = str(tmp_path / 'driving.mp4')
    iio.imwrite(clip, np.stack(driving), fps=25, codec='libx264', macro_block_size=1)
    result = subprocess.run([sys.executable, DEMO, '--source_image', f'{data_dir}/images/lp_s0.jpg',
                             '--driving_video', clip, '--output', str(tmp_path / 'out')],
                            capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    frames = list(VideoReader(str(tmp_path / 'out' / 'result.mp4')).frames())
    assert len(frames) == FRAMES
    driver = mouth_opening(list(VideoReader(clip).frames()))
    animated = mouth_opening(frames)
    assert np.ptp(driver) > 0.1                         # the driver does open the mouth
    r = np.corrcoef(driver, animated)[0, 1]
    print(f'mouth opening: r {r:.2f}, range {np.ptp(animated):.3f} (driver {np.ptp(driver):.3f})')
    assert r > 0.6, f'the mouth does not follow the driver (Pearson r {r:.2f})'
    # and it opens: at least a third of the driver's range (measured: ppfom-talk64 at stage 3's
    # iteration 250, r 0.97 and 57% of the range; the previous default ppfom-face64 fails both,
    # r 0.38 and 6%)
    assert np.ptp(animated) > np.ptp(driver) / 3, (np.ptp(animated), np.ptp(driver))
