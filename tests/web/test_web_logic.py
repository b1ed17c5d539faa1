"""The web app's logic without a browser (ppfom/apps/web.py): input checks, option mapping,
error messages, predictor reuse."""
import os
import struct
import zlib

import cv2
import numpy as np
import pytest

from helpers import empty_file, write_small_model
from ppfom.apps import FirstOrderPredictor, NoFaceError
from ppfom.apps import web
from ppfom.utils.download import DownloadError
from ppfom.utils.image_io import read_image
from ppfom.utils.model_zoo import MODEL_ZOO, get_model_spec


def png_header(path, width, height):
    """A PNG whose header claims ``width`` x ``height`` (nothing is decoded to read it)."""
    def chunk(kind, data):
        return (struct.pack('>I', len(data)) + kind + data
                + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff))
    ihdr = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr)
                     + chunk(b'IDAT', zlib.compress(b'')) + chunk(b'IEND', b''))
    return str(path)


def gradient(path):
    y, x = np.mgrid[0:320, 0:320]
    cv2.imwrite(str(path), np.stack([x * 255 // 319, y * 255 // 319, np.full_like(x, 128)],
                                    -1).astype(np.uint8))
    return str(path)


def test_photo_checks(data_dir, tmp_path):
    assert web.check_photo(f'{data_dir}/images/paddlegan_fom_source.png') == (256, 256)
    assert web.check_photo(f'{data_dir}/images/opencv_messi5.jpg') == (548, 342)
    with pytest.raises(web.InputError, match='upload a photo'):
        web.check_photo(None)
    with pytest.raises(web.InputError, match=r'empty.png is empty \(0 bytes\)'):
        web.check_photo(empty_file(tmp_path, 'empty.png'))
    with pytest.raises(web.InputError, match='lp_d2.mp4 is a video: put it in the Driving video'):
        web.check_photo(f'{data_dir}/videos/lp_d2.mp4')
    text = tmp_path / 'notes.jpg'
    text.write_text('hello')
    with pytest.raises(web.InputError, match='notes.jpg is not an image'):
        web.check_photo(str(text))
    huge = png_header(tmp_path / 'huge.png', 12000, 9000)
    with pytest.raises(web.InputError, match='12000x9000 pixels, too large'):
        web.check_photo(huge)
    assert web.check_photo(png_header(tmp_path / 'ok.png', 5000, 4000)) == (5000, 4000)


def test_video_checks(data_dir, tmp_path):
    web.check_video(f'{data_dir}/videos/lp_d2.mp4')
    web.check_video(f'{data_dir}/videos/opencv_megamind.avi')
    with pytest.raises(web.InputError, match='upload a driving video'):
        web.check_video('')
    with pytest.raises(web.InputError, match=r'clip.mp4 is empty \(0 bytes\)'):
        web.check_video(empty_file(tmp_path, 'clip.mp4'))
    with pytest.raises(web.InputError, match='lp_s4.jpg is a still image, not a video'):
        web.check_video(f'{data_dir}/images/lp_s4.jpg')


def test_page_options_map_to_predictor_arguments(tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path))  # no weights in either cache
    monkeypatch.setenv('PPFOM_HOME', str(tmp_path / 'ppfom'))
    custom = web.model_choices('/w/small.pdparams', '/w/small.yaml', online=True)
    labels = list(custom)
    assert labels[0] == 'custom (small.pdparams)'
    # the default (bundled) model first; the others need a download
    assert labels[1:] == [n if MODEL_ZOO[n].bundled else f'{n} (needs a download)'
                          for n in MODEL_ZOO]
    assert [c.kwargs['model'] for c in list(custom.values())[1:]] == list(MODEL_ZOO)
    kwargs = web.predictor_kwargs(custom[labels[0]], relative=True, adapt_scale=False,
                                  best_frame=7.0, multi_person=True, ratio=0.5,
                                  image_size='512', face_enhancement=True, audio=False)
    assert kwargs == dict(weight_path='/w/small.pdparams', config='/w/small.yaml', model=None,
                          relative=True, adapt_scale=False, find_best_frame=False, best_frame=7,
                          multi_person=True, crop=True, paste='head', ratio=0.5, image_size=512,
                          face_enhancement=True, audio=False, crop_driving='auto')
    # offline: marked as such; a copy in PaddleGAN's cache counts as local
    (tmp_path / '.cache' / 'ppgan').mkdir(parents=True)
    (tmp_path / '.cache' / 'ppgan' / 'vox-cpk-512.pdparams').write_bytes(b'weights')
    zoo = web.model_choices(model='vox512', online=False)
    assert list(zoo)[0] == 'vox512'  # cached in PaddleGAN's cache: available, first
    assert 'vox256 (offline: not downloaded)' in zoo
    assert all(n in zoo for n, spec in MODEL_ZOO.items() if spec.bundled)  # never marked
    zoo = {c.kwargs['model']: c for c in zoo.values()}
    kwargs = web.predictor_kwargs(zoo['vox-mobile'], find_best_frame=True, best_frame=0)
    assert kwargs['model'] == 'vox-mobile' and 'weight_path' not in kwargs
    assert kwargs['best_frame'] is None and kwargs['image_size'] is None
    for empty in (None, '', 0):
        assert web.predictor_kwargs(zoo['vox256'], best_frame=empty)['best_frame'] is None
    with pytest.raises(web.InputError, match='not both'):
        web.predictor_kwargs(zoo['vox256'], find_best_frame=True, best_frame=3)
    assert web.size_choices(128) == ['model default', '128', '256', '512']
    assert web.size_choices() == ['model default', '256', '512']


def test_error_messages_speak_the_page_language(tmp_path):
    assert web.error_message(NoFaceError('x')).startswith('No face found in the photo.')
    bad = tmp_path / 'upload123' / 'photo.png'
    bad.parent.mkdir()
    bad.write_bytes(b'\x89PNG not really')
    with pytest.raises(ValueError) as info:
        read_image(str(bad))
    message = web.error_message(info.value, paths=(str(bad),))
    assert str(tmp_path) not in message and message.startswith('Cannot read photo.png')
    with pytest.raises(ValueError) as info:
        read_image(str(tmp_path / 'gone.png'))
    message = web.error_message(info.value, paths=(str(tmp_path / 'gone.png'),))
    assert message == 'Source image not found: gone.png; check the Photo box'
    with pytest.raises(KeyError) as info:
        get_model_spec('vox1024')
    assert web.error_message(info.value).startswith("Unknown model 'vox1024'; known models:")


def test_animator_reports_errors_and_reuses_the_predictor(fixtures_dir, data_dir, tmp_path):
    config, weights = write_small_model(fixtures_dir, str(tmp_path))
    made = []

    def factory(**kwargs):
        made.append(kwargs)
        return FirstOrderPredictor(**kwargs)

    choices = web.model_choices(weights, config)
    animator = web.WebAnimator(choices, str(tmp_path / 'out'), predictor_factory=factory,
                               device='cpu', enhancer_weights=str(tmp_path / 'gfpgan.pdparams'))
    label = list(choices)[0]
    no_face = gradient(tmp_path / 'gradient.png')
    video = f'{data_dir}/videos/lp_d2.mp4'
    for _ in range(2):
        path, status = animator.animate(no_face, video, label, image_size='128')
        assert path is None and status.startswith('Error: No face found in the photo')
    assert len(made) == 1  # same options: the loaded networks are reused
    assert made[0]['enhancer_weights'] == str(tmp_path / 'gfpgan.pdparams')  # start-up option
    path, status = animator.animate(no_face, video, label, image_size='128', ratio=0.5,
                                    paste='disc')
    assert path is None and len(made) == 2 and made[1]['ratio'] == 0.5
    assert made[0]['paste'] == 'head' and made[1]['paste'] == 'disc'  # the page's paste choice
    path, status = animator.animate(no_face, video, 'vox2048')
    assert status == "Error: Unknown model 'vox2048'; choose one from the menu"
    path, status = animator.animate(no_face, None, label)
    assert status.startswith('Error: Upload a driving video')


def test_examples_come_only_from_an_existing_folder(data_dir, tmp_path):
    assert web.example_pairs(str(tmp_path / 'nope')) == []
    pairs = web.example_pairs(data_dir)
    assert len(pairs) == 3 and all(os.path.isfile(p[0]) and os.path.isfile(p[1]) for p in pairs)
    assert pairs[2][0].endswith('paddlegan_multi_person_5faces.jpg') and pairs[2][2] is True


def test_an_unexpected_failure_is_a_message_not_a_crash(data_dir, tmp_path):
    def broken_factory(**kwargs):
        raise TypeError("got an unexpected keyword argument 'x'")

    choices = web.model_choices()
    animator = web.WebAnimator(choices, str(tmp_path), predictor_factory=broken_factory)
    path, status = animator.animate(f'{data_dir}/images/paddlegan_fom_source.png',
                                    f'{data_dir}/videos/lp_d2.mp4', list(choices)[0])
    assert path is None
    assert status == ("Error: unexpected TypeError (Got an unexpected keyword argument 'x'); "
                      'the server log has the details')


def test_the_app_binds_to_this_machine_and_never_shares_by_default(capsys):
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), 'applications', 'tools', 'gradio_app.py')
    spec = importlib.util.spec_from_file_location('gradio_app', path)
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    args = app.build_parser().parse_args([])
    assert args.host == '127.0.0.1' and args.share is False and args.port == 7860
    assert app.main(['--weight_path', '/nonexistent/w.pdparams']) == 2
    assert capsys.readouterr().err == 'error: --weight_path /nonexistent/w.pdparams not found\n'


def test_file_names_keep_their_case_and_download_failures_say_what_to_do():
    from ppfom.utils.video import VideoReadError
    message = web.error_message(VideoReadError('lp_d1.mp4 has no frames; pass another video'))
    assert message == 'lp_d1.mp4 has no frames; pass another video'
    failed = DownloadError('cannot download vox-cpk.pdparams from https://x/vox-cpk.pdparams '
                           '(no route); download it by hand and pass it with --weight_path PATH')
    assert web.error_message(failed) == (
        'vox-cpk.pdparams could not be downloaded (no connection to its server?). Choose a model '
        'without "(needs a download)", or download the file elsewhere and start the app with '
        '--weight_path FILE.')


def test_stop_ends_the_run_at_the_next_report(data_dir, tmp_path):
    """Stop pressed while the run reports progress: the run ends, nothing is written."""
    class Reporting:
        def __init__(self, **kwargs):
            pass

        def run(self, photo, video, output=None, report=None):
            for done in range(1, 4):
                report('animating', done, 3)
                if done == 2:
                    animator.request_stop()
            raise AssertionError('not stopped')

    stages = []
    animator = web.WebAnimator(web.model_choices(online=False), str(tmp_path),
                               predictor_factory=Reporting)
    path, status = animator.animate(f'{data_dir}/images/paddlegan_fom_source.png',
                                    f'{data_dir}/videos/lp_d2.mp4', list(animator.choices)[0],
                                    report=lambda *a: stages.append(a))
    assert (path, status) == (None, 'Stopped.')
    assert stages == [('loading the model', 0, 1), ('animating', 1, 3), ('animating', 2, 3)]
    assert not any(files for _, _, files in os.walk(tmp_path))
