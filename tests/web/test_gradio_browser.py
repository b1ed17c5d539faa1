"""The Gradio app (applications/tools/gradio_app.py) driven in a real headless Chromium.

Needs the system browser (Debian: ``apt-get install -y chromium``; ``PPFOM_CHROMIUM`` overrides
the path) and ``pip install playwright gradio``; no browser is downloaded. A missing piece is a
failure that says what to install, never a skip. ``PPFOM_UPDATE_SCREENSHOT=1`` also writes the
page's screenshot to ``docs/images/gradio_app.png``.
"""
import os
import socket
import subprocess
import sys
import time
import urllib.request

import cv2
import imageio_ffmpeg
import numpy as np
import pytest

from helpers import write_small_model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
APP = os.path.join(ROOT, 'applications', 'tools', 'gradio_app.py')
CHROMIUM = os.environ.get('PPFOM_CHROMIUM', '/usr/bin/chromium')
CHROMIUM_FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                  '--disable-background-networking', '--disable-component-update',
                  '--disable-sync']
SCREENSHOT = os.path.join(ROOT, 'docs', 'images', 'gradio_app.png')
RUN_TIMEOUT_MS = 120_000


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def probe(path):
    """(has audio, exact frame count) of a video, as ffmpeg decodes it."""
    gen = imageio_ffmpeg.read_frames(path)
    meta = next(gen)
    gen.close()
    return bool(meta.get('audio_codec')), imageio_ffmpeg.count_frames_and_secs(path)[0]


@pytest.fixture(scope='module')
def app_url(fixtures_dir, data_dir, tmp_path_factory):
    """The app in a subprocess on a free local port, with the small seeded model (with
    ``PPFOM_UPDATE_SCREENSHOT=1``: the bundled default model, for the docs' screenshot)."""
    try:
        import gradio  # noqa: F401
    except ImportError:
        pytest.fail('gradio is not installed: pip install -r requirements-web.txt')
    folder = tmp_path_factory.mktemp('web')
    config, weights = write_small_model(fixtures_dir, str(folder))
    port = free_port()
    log = open(folder / 'app.log', 'w')
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED='False', HF_HUB_OFFLINE='1',
               GRADIO_TEMP_DIR=str(folder / 'gradio'), NO_PROXY='127.0.0.1,localhost')
    model = ([] if os.environ.get('PPFOM_UPDATE_SCREENSHOT') else
             ['--weight_path', weights, '--config', config, '--image_size', '128'])
    proc = subprocess.Popen(
        [sys.executable, APP, '--port', str(port), *model, '--output', str(folder / 'out'),
         '--cpu'],
        stdout=log, stderr=subprocess.STDOUT, cwd=str(folder), env=env)
    url = f'http://127.0.0.1:{port}/'
    deadline = time.time() + 120
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f'the app exited with {proc.returncode}:\n'
                            + open(folder / 'app.log').read()[-3000:])
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                pytest.fail('the app did not answer within 120 s:\n'
                            + open(folder / 'app.log').read()[-3000:])
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def require_browser():
    """playwright's ``sync_playwright`` once the system Chromium is known to be there (a failure
    saying what to install otherwise)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail('playwright is not installed: pip install playwright (the test uses the system '
                    'Chromium; do not run "playwright install")')
    if not os.path.isfile(CHROMIUM):
        pytest.fail(f'{CHROMIUM} not found: install Chromium (Debian: apt-get install -y '
                    'chromium) or set PPFOM_CHROMIUM to its path')
    return sync_playwright


@pytest.fixture(scope='module')
def page(request, tmp_path_factory):
    sync_playwright = require_browser()
    app_url = request.getfixturevalue('app_url')  # start the app once the browser is known
    profile = tmp_path_factory.mktemp('chromium-profile')
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS,
            viewport={'width': 1280, 'height': 1000})
        page = context.new_page()
        page.goto(app_url)
        page.wait_for_selector('#animate')
        yield page
        context.close()


def upload(page, slot, path):
    """Put ``path`` in an upload slot, emptying it first with its Clear button."""
    chooser = page.locator(f'#{slot} input[type=file]')
    clear = page.locator(f'#{slot} button[aria-label="Clear"], '
                         f'#{slot} button[aria-label="Remove Image"]')
    if clear.count():
        clear.first.click()
        page.wait_for_function(f"() => !document.querySelector('#{slot} video, #{slot} img')",
                               timeout=10_000)
    chooser.wait_for(state='attached', timeout=10_000)
    chooser.set_input_files(path)


def clear_page(page):
    """Press Clear and wait until photo, driving video, result and status are empty."""
    page.click('#clear')
    page.wait_for_function(
        "() => !/(Done|Error: |Running)/.test(document.querySelector('#status').innerText) && "
        "!document.querySelector('#photo img, #driving video, #result video')", timeout=10_000)


def animate(page):
    """Press Animate and wait until the status line shows 'Running…' and then the run's outcome
    (so the same message twice in a row is still seen); return it."""
    page.evaluate("""() => {
        window.__ppfomStatus = null;
        window.__ppfomRunning = false;
        const el = document.querySelector('#status');
        const seen = new MutationObserver(() => {
            // the status line (an error also puts gradio's "Error" badge above it)
            const text = el.innerText.trim().split('\\n').pop().trim();
            if (text.startsWith('Running')) { window.__ppfomRunning = true; }
            if (window.__ppfomRunning && /^(Done|Error: |Stopped)/.test(text)) {
                window.__ppfomStatus = text; seen.disconnect();
            }
        });
        seen.observe(el, {subtree: true, childList: true, characterData: true});
    }""")
    page.click('#animate')
    page.wait_for_function('() => window.__ppfomStatus !== null', timeout=RUN_TIMEOUT_MS)
    return page.evaluate('() => window.__ppfomStatus')


def test_photo_and_driving_video_give_a_playable_result_with_every_frame(
        page, app_url, data_dir, tmp_path):
    driving = f'{data_dir}/videos/lp_d2.mp4'
    has_audio, n_driving = probe(driving)
    assert n_driving == 16 and has_audio
    upload(page, 'photo', f'{data_dir}/images/paddlegan_fom_source.png')
    upload(page, 'driving', driving)
    page.wait_for_selector('#driving video')
    status = animate(page)
    assert status.startswith('Done: 16 frames at 30 fps, with the driving audio'), status

    # the page shows the result in a <video> the browser has loaded
    page.wait_for_function("() => { const v = document.querySelector('#result video');"
                           " return v && v.readyState >= 1 && v.duration > 0; }",
                           timeout=30_000)
    duration, width, error = page.evaluate(
        "() => { const v = document.querySelector('#result video');"
        " return [v.duration, v.videoWidth, v.error && v.error.code]; }")
    assert error is None and width > 0
    assert duration == pytest.approx(16 / 30, abs=0.05)

    # the file the page serves (the download link) has every driving frame and the audio
    href = page.locator('#download a').first.get_attribute('href')
    assert href and href.endswith('.mp4')
    local = tmp_path / 'downloaded.mp4'
    with urllib.request.urlopen(urllib.parse.urljoin(app_url, href), timeout=30) as response:
        local.write_bytes(response.read())
    out_audio, n_out = probe(str(local))
    assert n_out == n_driving and out_audio

    if os.environ.get('PPFOM_UPDATE_SCREENSHOT'):
        save_screenshot(page, data_dir, tmp_path)


def save_screenshot(page, data_dir, tmp_path):
    """The docs' screenshot, with Apache-2.0 media only (PaddleGAN's docs images): a 16-frame
    cut of paddlegan_mona7s.mp4 (with its audio) drives paddlegan_fom_source.png."""
    clip = str(tmp_path / 'mona16.mp4')
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), '-loglevel', 'error', '-i',
                    f'{data_dir}/videos/paddlegan_mona7s.mp4', '-frames:v', '16', clip], check=True)
    upload(page, 'driving', clip)
    page.wait_for_selector('#driving video')
    status = animate(page)
    assert status.startswith('Done: 16 frames'), status
    page.wait_for_selector('#result video')
    shot = tmp_path / 'gradio_app.png'
    page.screenshot(path=str(shot), full_page=True)
    from PIL import Image  # installed with gradio
    image = Image.open(shot).convert('RGB')
    image = image.resize((800, round(image.height * 800 / image.width)), Image.LANCZOS)
    os.makedirs(os.path.dirname(SCREENSHOT), exist_ok=True)
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(SCREENSHOT, optimize=True)


def test_bad_uploads_show_a_message_and_the_page_keeps_working(page, data_dir, tmp_path):
    photo = f'{data_dir}/images/paddlegan_fom_source.png'
    clear_page(page)
    # a still image in the video slot
    upload(page, 'photo', photo)
    # (the browser refuses it with a warning; the app's own check covers API clients)
    upload(page, 'driving', f'{data_dir}/images/lp_s4.jpg')
    toast = page.locator('[data-testid=toast-body]').filter(has_text='lp_s4.jpg')
    toast.first.wait_for(timeout=10_000)
    assert 'Invalid file type: lp_s4.jpg' in toast.first.inner_text()
    status = animate(page)
    assert status == ('Error: Upload a driving video (mp4, mov, avi or webm) in the Driving '
                      'video box (or pick an example)'), status
    assert page.locator('#result video').count() == 0

    # (an empty photo never reaches the app from the image box; test_web_logic covers it)
    # a photo without a face (a colour gradient)
    y, x = np.mgrid[0:320, 0:320]
    gradient = np.stack([x * 255 // 319, y * 255 // 319, np.full_like(x, 128)], -1)
    cv2.imwrite(str(tmp_path / 'gradient.png'), gradient.astype(np.uint8))
    upload(page, 'photo', str(tmp_path / 'gradient.png'))
    upload(page, 'driving', f'{data_dir}/videos/lp_d1.mp4')
    page.wait_for_selector('#driving video')
    status = animate(page)
    assert status == ('Error: No face found in the photo. Use a photo where the face is clearly '
                      'visible, or untick "Crop to the face" to animate the whole image.'), status
    assert 'No face found in the photo' in toast_text(page, 'No face found')  # an error toast

    # and the next try works
    upload(page, 'photo', photo)
    status = animate(page)
    assert status.startswith('Done: 16 frames at 30 fps'), status
    page.wait_for_selector('#result video')


def toast_text(page, has_text):
    """The text of the error toast that contains ``has_text`` (waits for it)."""
    toast = page.locator('[data-testid=toast-body]').filter(has_text=has_text)
    toast.first.wait_for(timeout=10_000)
    return toast.first.inner_text()


def test_example_gallery_fills_the_inputs_and_animates(page):
    """The shipped examples are shown as thumbnails beside the inputs; a click fills photo and
    driving video, and they animate: the 60 frames of the shipped 2-second clip, no audio."""
    gallery = page.locator('#examples')
    gallery.wait_for(timeout=10_000)
    thumbnails = gallery.locator('img')
    assert thumbnails.count() >= 2  # the photo and the five-face painting
    thumbnails.first.click()
    page.wait_for_selector('#photo img', timeout=10_000)
    page.wait_for_selector('#driving video', timeout=10_000)
    status = animate(page)
    assert status.startswith('Done: 60 frames at 30 fps, no audio'), status


def test_clear_empties_inputs_and_result(page):
    """After the runs above (a result is on the page), Clear empties everything."""
    page.locator('#examples img').first.click()
    page.wait_for_selector('#photo img', timeout=10_000)
    clear_page(page)
    assert page.locator('#photo img').count() == 0
    assert page.locator('#driving video').count() == 0
    assert page.locator('#result video').count() == 0
    assert page.locator('#photo input[type=file]').count() == 1  # ready for a new upload
