"""The Live tab's logic (ppfom.apps.web_live.WebLive) without a browser: the page's messages,
frames answered at once with the newest animated frame, bad photos."""
import functools
import time

import numpy as np

from ppfom.apps import FirstOrderPredictor
from ppfom.apps.web import model_choices
from ppfom.apps.web_live import START_FIRST, WebLive
from ppfom.utils.video import VideoReader

from helpers import write_small_model


def test_web_live_start_frames_reset_and_bad_photos(fixtures_dir, data_dir, tmp_path):
    config, weights = write_small_model(fixtures_dir, str(tmp_path))
    choices = model_choices(weights, config)
    label = next(iter(choices))
    web = WebLive(choices, functools.partial(FirstOrderPredictor, backend='eager'), device='cpu',
                  image_size=128)
    frames = list(VideoReader(f'{data_dir}/videos/lp_d1.mp4').frames())
    assert web.frame(frames[0]) == (None, START_FIRST) and web.reset() == START_FIRST

    image, text = web.start(f'{data_dir}/images/lp_s25_dog_noface.jpg'.replace('dog', 'cat'),
                            label)
    assert image is None and text.startswith('Error: The photo') and 'gone' in text
    image, text = web.start(f'{data_dir}/images/lp_s22_monkey_noface.jpg', label, crop=False)
    assert text.startswith('Ready') and image.shape == (128, 128, 3)  # the whole image

    image, text = web.start(f'{data_dir}/images/lp_s4.jpg', label)
    assert text.startswith('Ready') and image.shape == (720, 720, 3)
    still = image
    answers = []
    for frame in frames:  # each answer comes at once: the newest finished frame
        started = time.monotonic()
        answers.append(web.frame(frame))
        assert time.monotonic() - started < 0.1
        time.sleep(1 / 30)
    deadline = time.monotonic() + 10
    while web.live.stats.delivered < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    image, text = web.frame(None)
    assert text.startswith('Live:') and 'frames animated' in text, text
    assert not np.array_equal(image, still)
    assert web.reset().startswith('Reference pose') and web.live._reset.is_set()
    web.stop()
    assert web.live is None
