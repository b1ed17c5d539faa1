"""The web app's logic behind ``applications/tools/gradio_app.py``: the page options
(:class:`PageOptions`) to :class:`FirstOrderPredictor` arguments, input checks, errors as one
readable message, and the runs (:class:`WebAnimator`).

Nothing here imports gradio (an optional dependency), so it is tested directly
(``tests/web/test_web_logic.py``); the page layout is :mod:`ppfom.apps.web_page`, tested in a real
browser (``tests/web/test_gradio_browser.py``).
"""
import os
import shutil
import socket
import tempfile
import time
import urllib.parse
from dataclasses import asdict, dataclass, field, fields
from typing import Optional

import cv2

from ..utils.download import DownloadError, find_cached
from ..utils.logger import get_logger
from ..utils.model_zoo import MODEL_ZOO
from . import defaults
from .faces import NoFaceError
from .first_order_predictor import MAX_PHOTO_SIDE
from .model_loading import default_model_name

MAX_UPLOAD_MB = 200           # larger uploads are refused by the server (gradio max_file_size)
MAX_PHOTO_PIXELS = 50_000_000  # larger photos are refused before decoding (memory)
VIDEO_EXTENSIONS = ('.mp4', '.mov', '.avi', '.mkv', '.webm', '.flv', '.m4v', '.mpg', '.mpeg',
                    '.wmv', '.3gp', '.ts')
CUSTOM_MODEL = 'custom'
DEFAULT_SIZE = 'model default'
KEEP_RUNS = 8  # result folders kept on disk (older ones are deleted)

# CLI flags that error messages may name, in the words of the page
FLAG_WORDS = {
    '--no_crop': 'untick "Crop to the face"',
    '--multi_person': '"Animate every face"',
    '--source_image': 'the Photo box',
    '--driving_video': 'the Driving video box',
    '--best_frame': '"Start from driving frame"',
    '--ratio': '"Paste ratio (disc)"',
    '--paste': '"Paste back"',
    '--image_size': '"Image size"',
}  # --weight_path, --config and --enhancer_weights are start-up options of the app: kept


class InputError(ValueError):
    """An upload the app cannot use; the message says what to upload instead."""


class Stopped(Exception):
    """The user pressed Stop: the run ends at the next batch, nothing is written."""


@dataclass
class ModelChoice:
    """One entry of the page's model menu: its label and the predictor arguments it sets."""
    label: str
    kwargs: dict = field(default_factory=dict)


def reachable(url, timeout=2.0):
    """Whether ``url``'s server accepts a connection (a quick probe, no request sent)."""
    parts = urllib.parse.urlparse(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


def model_label(spec, online):
    """A zoo model's menu label: its name, marked when its weights are not on this machine
    (``needs a download``, or ``offline: not downloaded`` when the server cannot be reached)."""
    if spec.bundled or find_cached(spec.url, spec.sha256):
        return spec.name
    return f'{spec.name} (needs a download)' if online else f'{spec.name} (offline: not downloaded)'


def model_choices(weight_path=None, config=None, model=None, online=None):
    """The model menu: the weights given at start-up (``custom``) first when any, then the zoo.

    Zoo models whose weights are not on this machine are marked (:func:`model_label`);
    ``online`` (default: probe the download server once) says whether they can be fetched.
    Returns ``{label: ModelChoice}`` in menu order; the first entry is the default.
    """
    choices = {}
    if weight_path or config:
        label = f'{CUSTOM_MODEL} ({os.path.basename(weight_path or config)})'
        choices[label] = ModelChoice(label, {'weight_path': weight_path, 'config': config,
                                             'model': model})
    names = list(MODEL_ZOO)
    first = model or default_model_name()
    if first in names:
        names.remove(first)
        names.insert(0, first)
    urls = [MODEL_ZOO[n].url for n in names if MODEL_ZOO[n].url]
    if online is None and urls:
        online = reachable(urls[0])
    for name in names:
        label = model_label(MODEL_ZOO[name], online)
        choices[label] = ModelChoice(label, {'model': name})
    return choices


def size_choices(image_size=None):
    """The image size menu: the model's own size, 256, 512 and the start-up ``image_size``."""
    sizes = [DEFAULT_SIZE, '256', '512']
    if image_size and str(image_size) not in sizes:
        sizes.insert(1, str(image_size))
    return sizes


@dataclass
class PageOptions:
    """The page's animation options, with the defaults of :mod:`ppfom.apps.defaults`, in the
    order of the page's inputs after photo, video and model.

    best_frame: a driving frame index; None, '' or 0 for none (the motion starts at the first
    frame). image_size: a menu entry (``'model default'`` or a number as text).
    """
    relative: bool = defaults.RELATIVE
    adapt_scale: bool = defaults.ADAPT_SCALE
    find_best_frame: bool = False
    best_frame: Optional[int] = None
    multi_person: bool = False
    crop: bool = True
    paste: str = defaults.PASTE
    ratio: float = defaults.RATIO
    image_size: str = DEFAULT_SIZE
    face_enhancement: bool = False
    audio: bool = True
    crop_driving: str = defaults.CROP_DRIVING

    def predictor_kwargs(self, model):
        """:class:`FirstOrderPredictor` arguments for ``model`` (a :class:`ModelChoice`).

        Raises:
            InputError: ``find_best_frame`` together with a frame index (they contradict).
        """
        options = asdict(self)
        best_frame = options['best_frame']
        if best_frame in ('', None) or int(best_frame) <= 0:
            best_frame = None  # frame 0 is where the motion starts anyway
        else:
            best_frame = int(best_frame)
        if self.find_best_frame and best_frame is not None:
            raise InputError('choose either "Find the best starting frame" or a starting frame '
                             'number, not both')
        size = options['image_size']
        options.update({f.name: bool(options[f.name]) for f in fields(self)
                        if isinstance(f.default, bool)})  # checkboxes
        options.update(best_frame=best_frame, ratio=float(self.ratio),
                       image_size=None if size in (None, '', DEFAULT_SIZE) else int(size))
        return {**model.kwargs, **options}


def predictor_kwargs(model, **options):
    """``PageOptions(**options).predictor_kwargs(model)`` (see :class:`PageOptions`)."""
    return PageOptions(**options).predictor_kwargs(model)


def _is_video_name(path):
    return os.path.splitext(path)[1].lower() in VIDEO_EXTENSIONS


def check_photo(path):
    """Check the Photo upload before animating; return its ``(width, height)``.

    Raises:
        InputError: nothing uploaded, an empty file, a video, a file that is not an image,
            or a photo over ``MAX_PHOTO_PIXELS``.
    """
    if not path:
        raise InputError('upload a photo with a face in the Photo box (or pick an example)')
    name = os.path.basename(path)
    if not os.path.isfile(path):
        raise InputError(f'the photo {name} is gone from the server; upload it again')
    if os.path.getsize(path) == 0:
        raise InputError(f'the photo {name} is empty (0 bytes); upload the file again')
    if _is_video_name(path):
        raise InputError(f'{name} is a video: put it in the Driving video box and a photo here')
    size = _image_size(path)
    if size is None:
        raise InputError(f'{name} is not an image this app can read; upload a JPEG or PNG photo')
    if size[0] * size[1] > MAX_PHOTO_PIXELS:
        raise InputError(f'the photo {name} is {size[0]}x{size[1]} pixels, too large for the app '
                         f'(at most {MAX_PHOTO_PIXELS // 10 ** 6} megapixels); resize it to about '
                         f'{MAX_PHOTO_SIDE} pixels a side')
    return size


def _image_size(path):
    """``(width, height)`` from the image header (no full decode), or None if not an image."""
    try:
        from PIL import Image  # installed with gradio; read the header only
    except ImportError:
        image = cv2.imread(path, cv2.IMREAD_REDUCED_GRAYSCALE_8)
        return None if image is None else (image.shape[1] * 8, image.shape[0] * 8)
    import warnings
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
            try:
                with Image.open(path) as image:
                    if getattr(image, 'n_frames', 1) > 1 and image.format == 'GIF':
                        return None  # an animated GIF is a video
                    return image.size
            finally:
                Image.MAX_IMAGE_PIXELS = saved
    except Exception:  # noqa: BLE001 (PIL raises many types for non-images)
        return None


def check_video(path):
    """Check the Driving video upload before animating.

    Raises:
        InputError: nothing uploaded, an empty file, or a still image in the video box.
        (Files that are not decodable videos are reported by the predictor's
        :class:`~ppfom.utils.video.VideoReadError`.)
    """
    if not path:
        raise InputError('upload a driving video (mp4, mov, avi or webm) in the Driving video box '
                         '(or pick an example)')
    name = os.path.basename(path)
    if not os.path.isfile(path):
        raise InputError(f'the video {name} is gone from the server; upload it again')
    if os.path.getsize(path) == 0:
        raise InputError(f'the video {name} is empty (0 bytes); upload the file again')
    if not _is_video_name(path) and _image_size(path) is not None:
        raise InputError(f'{name} is a still image, not a video: put photos in the Photo box and '
                         'a video (mp4, mov, avi or webm) here')


def error_message(exc, paths=()):
    """One readable line for the page from an exception raised while animating.

    Upload folders in the message are shortened to the file names (``paths``: the uploaded
    files), CLI flags are replaced by the page's words (:data:`FLAG_WORDS`).
    """
    if isinstance(exc, NoFaceError):
        return ('No face found in the photo. Use a photo where the face is clearly visible, or '
                'untick "Crop to the face" to animate the whole image.')
    if isinstance(exc, KeyError) and exc.args:
        text = str(exc.args[0])
    else:
        text = str(exc) or type(exc).__name__
    for path in paths:
        if path:
            text = text.replace(path, os.path.basename(path))
    for flag, words in FLAG_WORDS.items():
        text = text.replace(f'check {flag}', f'check {words}').replace(flag, words)
    if isinstance(exc, DownloadError):
        name = text.split()[2] if text.startswith('cannot download ') else 'the weights'
        return (f'{name} could not be downloaded (no connection to its server?). Choose a model '
                'without "(needs a download)", or download the file elsewhere and start the app '
                'with --weight_path FILE.')
    text = text.splitlines()[0] if text else text
    first = text.split(' ', 1)[0]
    if first.isalpha() and first.islower():  # a word, not a file name ("lp_d1.mp4 is ...")
        text = text[:1].upper() + text[1:]
    return text


class WebAnimator:
    """Runs the predictor for the page: keeps the last predictor (reloading weights only when
    the model options change), writes each result into its own folder under ``output_root``,
    and turns every failure into a message.

    Args:
        choices: ``{label: ModelChoice}`` (see :func:`model_choices`).
        output_root: folder for results (default: a new temporary folder).
        predictor_factory: the class that animates (``FirstOrderPredictor``; replaceable in tests).
        device: ``'cpu'``, ``'gpu'`` or None.
        enhancer_weights: local weights of the face enhancer (the app's start-up option).
    """

    def __init__(self, choices, output_root=None, predictor_factory=None, device=None,
                 enhancer_weights=None):
        if predictor_factory is None:
            from .first_order_predictor import FirstOrderPredictor as predictor_factory
        self.choices = choices
        self.fixed = {'enhancer_weights': enhancer_weights} if enhancer_weights else {}
        self.output_root = output_root or tempfile.mkdtemp(prefix='ppfom-web-')
        os.makedirs(self.output_root, exist_ok=True)
        self.factory, self.device = predictor_factory, device
        self._predictor = self._key = None
        self._runs = 0
        self._stop = False

    def request_stop(self):
        """Make the current run end at its next batch (its result is not written)."""
        self._stop = True

    def _reporter(self, report):
        """``report(stage, done, total)`` wrapped: ends the run when Stop was pressed."""
        def checked(stage, done, total):
            if self._stop:
                raise Stopped()
            if report:
                report(stage, done, total)
        return checked

    def predictor(self, kwargs):
        """A predictor for ``kwargs``: the previous one when the options are the same (no
        reloading of weights between runs), else a new one."""
        key = tuple(sorted(kwargs.items()))
        if self._predictor is None or key != self._key:
            self._predictor = self._key = None  # free the old networks first
            self._predictor = self.factory(device=self.device, progress=True, messages='cli',
                                           **self.fixed, **kwargs)
            self._key = key
        return self._predictor

    def _new_run_folder(self):
        self._runs += 1
        folder = os.path.join(self.output_root, f'run-{self._runs:04d}')
        os.makedirs(folder, exist_ok=True)
        old = os.path.join(self.output_root, f'run-{self._runs - KEEP_RUNS:04d}')
        shutil.rmtree(old, ignore_errors=True)
        return folder

    def _discard(self, folder):
        """Remove the run folder of a failed request: a failure leaves nothing on disk."""
        if folder:
            shutil.rmtree(folder, ignore_errors=True)

    def animate(self, photo, video, model_label, *options, report=None, **named_options):
        """Animate ``photo`` with ``video`` (uploaded file paths) with the ``model_label`` model
        and the page's options (:class:`PageOptions`, by position or name); ``report(stage,
        done, total)`` is called as the run progresses (stages: ``loading the model``, then
        those of :meth:`FirstOrderPredictor.run`).

        Returns:
            ``(result path or None, status text)``: the status is a one-line summary on success
            (``Done: ...``), a one-line message on failure (``Error: ...``, never an exception)
            and ``Stopped.`` after :meth:`request_stop`.
        """
        start, folder = time.time(), None
        self._stop = False
        report = self._reporter(report)
        try:
            width, height = check_photo(photo)
            check_video(video)
            if model_label not in self.choices:
                raise InputError(f'unknown model {model_label!r}; choose one from the menu')
            options = PageOptions(*options, **named_options)
            kwargs = options.predictor_kwargs(self.choices[model_label])
            report('loading the model', 0, 1)
            predictor = self.predictor(kwargs)
            folder = self._new_run_folder()
            stem = os.path.splitext(os.path.basename(photo))[0]
            path = predictor.run(photo, video, output=os.path.join(folder, f'{stem}_animated.mp4'),
                                 report=report)
        except Stopped:
            self._discard(folder)
            return None, 'Stopped.'
        except (ValueError, OSError, KeyError, RuntimeError, MemoryError) as exc:
            self._discard(folder)
            return None, 'Error: ' + error_message(exc, paths=(photo, video))
        except Exception as exc:  # noqa: BLE001 (a bug: keep the page usable, log the traceback)
            self._discard(folder)
            get_logger().exception('unexpected error while animating')
            message = error_message(exc, (photo, video))
            return None, (f'Error: unexpected {type(exc).__name__} ({message}); the server log '
                          'has the details')
        from ..utils.video import VideoReader
        result = VideoReader(path)
        notes = [f'{result.frame_count} frames at {result.fps:g} fps',
                 'with the driving audio' if result.has_audio else 'no audio']
        if max(width, height) > MAX_PHOTO_SIDE:
            notes.append(f'photo downscaled from {width}x{height} to at most {MAX_PHOTO_SIDE} '
                         'pixels a side')
        notes.append(f'{time.time() - start:.1f} s')
        return path, 'Done: ' + ', '.join(notes) + '.'


def example_pairs(data_dir):
    """Examples from a folder laid out as ``../shared/data`` (``images/``, ``videos/``):
    ``[[photo, video, multi_person], ...]`` for the files that exist (empty when none)."""
    if not data_dir or not os.path.isdir(data_dir):
        return []
    # Apache-2.0 media from PaddleGAN's docs (shown in the docs' screenshot)
    wanted = [('paddlegan_fom_source.png', 'paddlegan_mona7s.mp4', False),
              ('paddlegan_face.png', 'paddlegan_mona7s.mp4', False),
              ('paddlegan_multi_person_5faces.jpg', 'paddlegan_mona7s.mp4', True)]
    out = []
    for image, video, multi in wanted:
        image, video = (os.path.join(data_dir, 'images', image),
                        os.path.join(data_dir, 'videos', video))
        if os.path.isfile(image) and os.path.isfile(video):
            out.append([image, video, multi])
    return out
