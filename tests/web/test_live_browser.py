"""The web page's Live tab in a real headless Chromium whose webcam is a fake device playing a
real video (a y4m made at test time from ../shared/data): animated frames arrive in the page,
and the reference-pose reset answers. Needs what test_gradio_browser.py needs."""
import re
import subprocess
import time
import urllib.parse
import urllib.request

import cv2
import imageio_ffmpeg
import numpy as np
import pytest

from test_gradio_browser import CHROMIUM, CHROMIUM_FLAGS, app_url, require_browser  # noqa: F401


@pytest.fixture(scope='module')
def camera_clip(data_dir, tmp_path_factory):
    """A webcam-like clip: 4:3, 320x240, 3 s of a real talking face, as y4m for Chromium."""
    path = str(tmp_path_factory.mktemp('camera') / 'clip.y4m')
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), '-loglevel', 'error', '-i',
                    f'{data_dir}/videos/lp_d12.mp4', '-frames:v', '75', '-vf',
                    'scale=240:240,pad=320:240:40:0', '-pix_fmt', 'yuv420p', path], check=True)
    return path


@pytest.fixture(scope='module')
def live_page(request, camera_clip, tmp_path_factory):
    sync_playwright = require_browser()
    url = request.getfixturevalue('app_url')
    profile = tmp_path_factory.mktemp('chromium-profile')
    flags = CHROMIUM_FLAGS + ['--use-fake-ui-for-media-stream',
                              '--use-fake-device-for-media-stream',
                              f'--use-file-for-fake-video-capture={camera_clip}']
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=flags,
            viewport={'width': 1280, 'height': 1000})
        context.grant_permissions(['camera'])
        page = context.new_page()
        page.goto(url)
        page.get_by_role('tab', name='Live').click()
        page.wait_for_selector('#live_start')
        yield page, url
        context.close()


def animated_count(page):
    """N of the status line's "Live: ...; N frames animated." (None while another line shows;
    gradio may add its timer to the element's text)."""
    found = re.search(r'Live: .*fps.*; (\d+) frames animated', page.locator('#live_status')
                      .inner_text())
    return int(found.group(1)) if found else None


def fetch_image(url, src):
    with urllib.request.urlopen(urllib.parse.urljoin(url, src), timeout=10) as response:
        data = np.frombuffer(response.read(), np.uint8)
    return cv2.imdecode(data, cv2.IMREAD_COLOR)


def test_webcam_frames_are_animated_in_the_page(live_page, data_dir):
    page, url = live_page
    page.locator('#live_photo input[type=file]').set_input_files(
        f'{data_dir}/images/paddlegan_fom_source.png')
    page.click('#live_start')
    page.wait_for_function("() => document.querySelector('#live_status').innerText"
                           ".includes('Ready')", timeout=60_000)
    page.get_by_text('Click to Access Webcam').click()
    page.locator('#live_camera button', has_text='Record').click()

    # animated frames arrive: the output image changes, the status counts them
    sources, deadline = [], time.time() + 40
    while time.time() < deadline:
        src = page.locator('#live_output img').first.get_attribute('src') \
            if page.locator('#live_output img').count() else None
        if src and (not sources or src != sources[-1]):
            sources.append(src)
        if len(sources) >= 6 and (animated_count(page) or 0) >= 5:
            break
        time.sleep(0.1)
    assert len(sources) >= 6 and (animated_count(page) or 0) >= 5, \
        page.locator('#live_status').inner_text()
    # the frames move: the last one differs from the first ones (the webcam's face drives it)
    images = [fetch_image(url, s) for s in (sources[1], sources[-1])]
    assert images[0].shape == images[1].shape
    assert np.abs(images[0].astype(int) - images[1]).mean() > 0.5

    # the reference pose reset answers, and frames keep coming after it
    page.evaluate("""() => {
        window.__ppfomReset = false;
        const el = document.querySelector('#live_status');
        const seen = new MutationObserver(() => {
            if (el.innerText.includes('Reference pose')) {
                window.__ppfomReset = true; seen.disconnect(); }
        });
        seen.observe(el, {subtree: true, childList: true, characterData: true});
    }""")  # the stream's next answer replaces the message: catch it as it appears
    page.click('#live_reset')
    page.wait_for_function('() => window.__ppfomReset', timeout=10_000)
    page.wait_for_function("() => document.querySelector('#live_status').innerText"
                           ".includes('Live:')", timeout=20_000)
