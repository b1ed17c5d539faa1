"""``FirstOrderPredictor``: the Python API behind the CLI, notebooks and web UIs."""
import functools
import os
import re

import cv2
import numpy as np
import paddle
from tqdm import tqdm

from ..utils.download import DownloadError
from ..utils.logger import get_logger
from ..utils.video import (VideoWriter, check_not_an_input, check_output_name,
                           check_writable_folder)
from . import defaults
from .animation import Animator, MotionOptions
from .faces import DrivingCropper, FaceOptions, PhotoCompositor, select_face_crops
from .inputs import FrameCollector, load_source, open_driving
from .landmarks import FaceLandmarks, animated_landmarks, fill_missing
from .model_loading import make_backend, resolve_model

MAX_PHOTO_SIDE = 1920  # larger photos are downscaled (logged); the video has the photo's size

# CLI flags in error messages, as Python API arguments (other ``--name`` become ``name``)
FLAG_ARGUMENTS = {'--no_crop': 'crop=False', '--no_audio': 'audio=False',
                  '--absolute': 'relative=False', '--no_adapt_scale': 'adapt_scale=False',
                  '--cpu': "device='cpu'"}


def api_message(text):
    """``text`` (an error message naming CLI flags) in the Python API's words."""
    for flag, argument in FLAG_ARGUMENTS.items():
        text = text.replace(flag, argument)
    text = re.sub(r'--(\w+) (PATH|FILE)\b', r'\1=\2', text)
    return re.sub(r'--(\w+)', r'\1', text)


def _api_errors(method):
    """Reword the one-line errors of ``method`` for Python callers (``messages='api'``): the
    same exception, its message naming arguments instead of CLI flags."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except (ValueError, OSError, KeyError, DownloadError) as exc:
            words = getattr(self, 'messages', None) or kwargs.get('messages', 'api')
            if words == 'api' and exc.args and isinstance(exc.args[0], str):
                exc.args = (api_message(exc.args[0]),) + exc.args[1:]
            raise
    return wrapper


def _concat_kp(parts):
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


class FirstOrderPredictor:
    """Animate a photo with a driving video (First Order Motion Model).

    Arguments follow PaddleGAN's ``FirstOrderPredictor``; ``run(source_image, driving_video)``
    writes ``output/filename`` (or ``run(..., output=PATH)``) and returns its path, or returns the
    frames with ``return_frames=True``. Photos and driving frames may also be arrays.

    Args:
        output: output folder. filename: name of the result (``result.mp4``).
        weight_path: a FOMM ``.pdparams`` (PaddleGAN layout, trainer checkpoint or converted).
        config: YAML with a ``model`` section (default: the model's own config).
        model: a model zoo name (see :mod:`ppfom.utils.model_zoo`); default: ``defaults.MODEL``
            (``ppfom-talk64``, bundled).
        relative, adapt_scale, find_best_frame, best_frame: see :class:`MotionOptions`
            (relative motion and adapt_scale are on by default; PaddleGAN's are off).
        image_size: side of the animated square (256; 512 selects the 512 model).
        batch_size: driving frames per network call (the frames are identical for any value).
        mobile_net: PaddleGAN's lightweight model.
        face_detector: ``blazeface`` (default, bundled), ``blazeface_full`` or ``sfd``.
        detector_weights: weights of the detector (S3FD's are downloaded when not given).
        crop: animate the face(s) and paste them back (False animates the whole image).
        multi_person: animate every face.
        paste: ``head`` (default: a feathered mask of the head from FaceMesh landmarks; neck,
            clothes and background stay the photo's) or ``disc`` (PaddleGAN's disc).
        ratio: radius / crop side of the pasted disc (PaddleGAN's ``--ratio``; ``paste='disc'``).
        crop_driving: ``auto`` or ``on`` (with ``crop``: frame the driving face by the photo's
            crop rule; without: ``auto`` crops only non-square frames or small faces, ``on``
            always) or ``off`` (never).
        face_enhancement: restore each animated face with ``enhancer`` (``gfpgan`` or ``gpen``,
            or a registry config dict ``{'name': ..., **kwargs}``) whose weights are
            ``enhancer_weights`` (downloaded when not given).
        backend, precision, threads, rebuild_export: how the networks run; see
            :func:`ppfom.apps.model_loading.make_backend` (default: Paddle Inference, in bf16
            where the CPU has it and the networks run at the output size, else fp32).
        audio: True copies the driving video's audio, False writes none, a file path puts that
            file's sound under the result (trimmed or padded to the video's length).
        device: ``'cpu'``, ``'gpu'`` or None.
        progress: show tqdm progress bars.
        messages: ``'api'`` (errors name the arguments) or ``'cli'`` (errors name CLI flags).
    Raises (constructor): ``ValueError`` subclasses with one-line messages for bad options or
    weights that do not fit (``OutputPathError`` for a ``filename`` the writer cannot honour,
    ``CheckpointError`` / ``WeightsReadError`` for weights), ``DownloadError`` when weights are
    missing and cannot be fetched.
    Raises (``run``), one exception type per kind of bad input, all with one-line messages
    naming the file: ``ImageReadError`` (photo missing, a folder, not an image, truncated),
    ``VideoReadError`` (driving video missing, not a video, truncated, fewer than 2 frames),
    ``NoFaceError``, ``OutputPathError`` (the output is an input, or another run is writing
    it): all ``ValueError``; ``VideoWriteError`` (an ``OSError``: folder not writable, disk
    full). Whatever the error, nothing is left on disk (no result, no temporary file).
    """

    @_api_errors
    def __init__(self, output=defaults.OUTPUT, weight_path=None, config=None,
                 relative=defaults.RELATIVE, adapt_scale=defaults.ADAPT_SCALE,
                 find_best_frame=False, best_frame=None, ratio=defaults.RATIO,
                 filename=defaults.FILENAME, face_detector=defaults.FACE_DETECTOR,
                 multi_person=False, image_size=None, face_enhancement=False, paste=defaults.PASTE,
                 batch_size=defaults.BATCH_SIZE, mobile_net=False, model=None,
                 detector_weights=None, crop=True, crop_driving=defaults.CROP_DRIVING,
                 enhancer=defaults.ENHANCER, enhancer_weights=None, backend=defaults.BACKEND,
                 precision=defaults.PRECISION, threads=None, rebuild_export=False, audio=True,
                 device=None, progress=True, messages='api'):
        self.messages = messages
        if batch_size < 1:
            raise ValueError(f'--batch_size must be at least 1, got {batch_size}')
        if best_frame is not None and best_frame < 0:
            raise ValueError(f'--best_frame must be a frame index >= 0, got {best_frame}')
        low, high = defaults.RATIO_RANGE
        if not low <= ratio <= high:
            raise ValueError(f'--ratio {ratio} is outside {low}..{high} ({defaults.RATIO} pastes '
                             'the face, 0.5 the whole crop)')
        if crop_driving not in defaults.CROP_DRIVING_CHOICES:
            raise ValueError(f"--crop_driving must be auto, on or off, got '{crop_driving}'")
        if paste not in defaults.PASTE_CHOICES:
            raise ValueError(f"--paste must be head or disc, got '{paste}'")
        if multi_person and not crop:
            raise ValueError('--multi_person needs face crops; drop --no_crop')
        if isinstance(audio, (str, os.PathLike)) and not os.path.isfile(audio):
            raise ValueError(f'audio file not found: {audio}; check --audio')
        check_output_name(filename)
        if device:
            paddle.set_device(device)
        self.output, self.filename = output, filename
        self.batch_size, self.audio, self.progress = batch_size, audio, progress
        self.logger = get_logger()
        self.options = MotionOptions(relative=relative, adapt_scale=adapt_scale,
                                     find_best_frame=find_best_frame, best_frame=best_frame)
        self.faces = FaceOptions(crop=crop, multi_person=multi_person, ratio=ratio, paste=paste,
                                 crop_driving=crop_driving)

        self.model = resolve_model(model=model, config=config, weight_path=weight_path,
                                   image_size=image_size, mobile_net=mobile_net)
        self.image_size = self.model.output_size
        self.backend = make_backend(self.model, backend, precision, threads, rebuild_export)

        self.detector = self.tracker = None
        if crop or crop_driving != 'off':
            from ..faceutils.face_detection import build_detector
            kwargs = {'weights': detector_weights} if detector_weights else {}
            self.detector = build_detector(face_detector, **kwargs)
            # per-frame tracking: the fast single-pass BlazeFace (tiles find small faces in
            # photos; a driving face is large enough for one pass)
            self.tracker = (build_detector(face_detector, tiles=False, **kwargs)
                            if face_detector == 'blazeface' else self.detector)
        self.enhancer = None
        if face_enhancement:
            from ..faceutils.face_enhancement import build_enhancer
            cfg = dict(enhancer) if isinstance(enhancer, dict) else {'name': enhancer}
            cfg.setdefault('weight_path', enhancer_weights)
            cfg.setdefault('batch_size', batch_size)
            self.enhancer = build_enhancer(cfg)

    def _bar(self, total, desc):
        return tqdm(total=total, desc=desc, unit='frame', disable=not self.progress)

    def read_photo(self, source_image):
        """Step 1 of :meth:`run`: the photo (a path or an ``(H, W, 3)`` uint8 RGB array) as RGB
        uint8, downscaled when larger than ``MAX_PHOTO_SIDE``."""
        photo = load_source(source_image)
        side = max(photo.shape[:2])
        if side > MAX_PHOTO_SIDE:
            scale = MAX_PHOTO_SIDE / side
            size = (round(photo.shape[1] * scale), round(photo.shape[0] * scale))
            self.logger.info('photo is %dx%d: animating a %dx%d copy', photo.shape[1],
                             photo.shape[0], *size)
            photo = cv2.resize(photo, size, interpolation=cv2.INTER_AREA)
        return photo

    def prepare_source(self, photo, name='(photo)'):
        """Steps 2 and 3 of :meth:`run` (shared with :class:`ppfom.apps.live.LiveAnimator`):
        choose what to animate in ``photo`` (``(H, W, 3)`` uint8 RGB: the face crop(s) or the
        whole image), then the sources' keypoints and features (with their FaceMesh landmarks
        when the model or the head paste needs them), once, and the paste-back colours.

        Returns ``(animator, compositor, landmarks)``: an :class:`Animator` ready for driving
        keypoints, the :class:`PhotoCompositor` that :meth:`render` pastes its frames with, and
        the :class:`FaceLandmarks` that follows the driving frames (None when not needed).
        Raises :class:`NoFaceError` when cropping and the photo has no face.
        """
        crops = select_face_crops(photo, self.detector.detect, self.faces, name) \
            if self.faces.crop else None
        if crops:
            self.logger.info('animating %d face(s)', len(crops))
        compositor = PhotoCompositor(photo, crops, self.faces.ratio, self.faces.paste)
        animator = Animator(self.backend, self.image_size, self.options,
                            network_size=self.model.network_size)
        sources = compositor.sources(self.image_size)
        landmarks = (FaceLandmarks(self.tracker)
                     if animator.takes_landmarks or compositor.needs_landmarks else None)
        source_landmarks = None if landmarks is None else landmarks.of_sources(sources)
        animator.set_source(sources, source_landmarks)
        if compositor.needs_landmarks:
            compositor.set_source_landmarks(source_landmarks)
        compositor.fit_colours(animator.rest())
        return animator, compositor, landmarks

    def render(self, frames, compositor, landmarks=None):
        """The last part of step 6 (shared with the live animator): animated sources
        ``(F, B, S, S, 3)`` uint8 -> (enhanced with ``face_enhancement``) output frames
        ``(B, H, W, 3)`` uint8 RGB, pasted into the photo by ``compositor``. ``landmarks``:
        ``(driving (B, 468, 2), initial (468, 2))`` in ``[0, 1]`` of the driving crops, where
        the head paste follows the animated heads (:func:`animated_landmarks`)."""
        if self.enhancer is not None:
            frames = self.enhance(frames)
        heads = None
        if compositor.needs_landmarks and landmarks is not None:
            heads = animated_landmarks(compositor.source_landmarks, landmarks[0], landmarks[1],
                                       self.options)
        return compositor.compose(frames, heads)

    def driving_keypoints(self, animator, driving, cropper, landmarks=None, report=None):
        """Step 4 of :meth:`run`: keypoints of every driving frame, decoded and cropped in
        batches; with ``landmarks`` (:class:`FaceLandmarks`), also the FaceMesh landmarks of every
        frame (``(T, 468, 2)`` in ``[0, 1]`` of the crop, frames without a face holding the last
        face's), from which models that read landmarks take their keypoints;
        ``report(stage, done, total)`` after each batch.
        Returns ``(kp_driving, driving_landmarks or None)``."""
        parts, marks, start = [], [], 0
        with self._bar(driving.frame_count, 'keypoints') as bar:
            for frames in driving.batches(self.batch_size):
                frames = cropper(frames, start)
                if landmarks is not None:
                    marks.append(landmarks.of_driving(frames))
                if not animator.takes_landmarks:
                    parts.append(animator.keypoints(frames))
                start += len(frames)
                bar.update(len(frames))
                if report:
                    report('driving keypoints', start, driving.frame_count)
        if not marks:
            return _concat_kp(parts), None
        driving_landmarks, found = fill_missing(np.concatenate(marks))
        if not found.all():
            self.logger.info('driving face not found in %d of %d frames: the last face found is '
                             'held there', int((~found).sum()), len(found))
        if animator.takes_landmarks:
            parts = [animator.keypoints(None, driving_landmarks[i:i + self.batch_size])
                     for i in range(0, len(driving_landmarks), self.batch_size)]
        return _concat_kp(parts), driving_landmarks

    def enhance(self, frames):
        """Step 6 of :meth:`run` (with ``face_enhancement``): restore animated faces
        ``(F, B, S, S, 3)`` uint8 with the face enhancer."""
        f, b, s = frames.shape[:3]
        batch = frames.reshape(f * b, s, s, 3).transpose(0, 3, 1, 2).astype(np.float32) / 255
        restored = self.enhancer.enhance(batch)
        restored = np.clip(np.rint(np.asarray(restored) * 255), 0, 255).astype(np.uint8)
        return restored.transpose(0, 2, 3, 1).reshape(frames.shape)

    @_api_errors
    def run(self, source_image, driving_video, output=None, fps=None, return_frames=False,
            report=None):
        """Animate ``source_image`` with ``driving_video``.

        Args:
            source_image: path of a photo, or an ``(H, W, 3)`` uint8 RGB array.
            driving_video: path of a video, a ``(T, H, W, 3)`` uint8 RGB array, or an iterable
                of ``(H, W, 3)`` uint8 RGB frames.
            output: path of the result for this call (default: ``output/filename`` of the
                constructor).
            fps: frame rate of the result when the driving frames are in memory (default 30).
            return_frames: return the result as a ``(T, H, W, 3)`` uint8 RGB array instead of
                writing a file.
            report: called as ``report(stage, done, total)`` while running (stage names:
                ``reading``, ``driving keypoints``, ``animating``), e.g. for a progress display.

        1. Read the photo (downscaled above ``MAX_PHOTO_SIDE``) and open the driving video.
        2. Choose what to animate: the face crop(s), or the whole image.
        3. Source keypoints (measured from FaceMesh landmarks for models that read them) and
           encoder features, once; fit the paste-back colours.
        4. Crop every driving frame around the face (by the photo's rule when the photo is
           cropped), follow its landmarks (when the model or the head paste needs them) and
           compute its keypoints, in batches.
        5. Choose the initial driving frame (0, ``best_frame`` or the best-matching pose).
        6. Normalise the motion, generate, (enhance), paste back (inside the head at rest and
           animated, or PaddleGAN's disc) and encode, batch by batch, with the driving audio; the
           file appears at the output path only when complete.

        Returns the output path (or the frames). On any error nothing is left at the output
        path.
        Raises: ``ImageReadError``, ``VideoReadError``, ``NoFaceError``, ``VideoWriteError``,
        ``ValueError`` for arrays of the wrong shape or dtype: one line each, naming the
        argument.
        """
        # 1. inputs, and the output (reserved now: a second run writing it is refused at once)
        report = report or (lambda stage, done, total: None)
        report('reading', 0, 1)
        photo = self.read_photo(source_image)
        driving = open_driving(driving_video, fps)
        if hasattr(driving, 'check'):
            driving.check()
        out_path = output or os.path.join(self.output, self.filename)
        if return_frames:
            return self._animate(photo, driving, FrameCollector(), source_image, report).result()
        check_writable_folder(os.path.dirname(os.path.abspath(out_path)))
        check_not_an_input(out_path, [p for p in (source_image, driving_video)
                                      if isinstance(p, (str, os.PathLike))])
        if isinstance(self.audio, (str, os.PathLike)):
            audio_from = os.fspath(self.audio)
        else:
            audio_from = driving.path if (self.audio and driving.has_audio) else None
        with VideoWriter(out_path, driving.fps, audio_from=audio_from,
                         duration=driving.frame_count / driving.fps) as writer:
            self._animate(photo, driving, writer, source_image, report)
        self.logger.info('wrote %s (%d frames, %.2f fps%s)', out_path, writer.frames_written,
                         driving.fps, ', with audio' if audio_from else '')
        return out_path

    def _animate(self, photo, driving, writer, source_image, report):
        """Steps 2-6 of :meth:`run`, writing the frames to ``writer``; returns ``writer``."""
        # 2. and 3. what to animate, and the sources once
        name = source_image if isinstance(source_image, (str, os.PathLike)) else '(photo array)'
        animator, compositor, landmarks = self.prepare_source(photo, name)

        # 4. driving keypoints (and landmarks)
        cropper = DrivingCropper(self.tracker.detect if self.tracker else None, self.faces,
                                 detect_anchor=self.detector.detect if self.detector else None)
        cropper.prepare(driving)
        kp_driving, driving_landmarks = self.driving_keypoints(animator, driving, cropper,
                                                               landmarks, report)

        # 5. initial frame
        initial = animator.initial_frame(kp_driving)
        if self.options.find_best_frame or self.options.best_frame is not None:
            self.logger.info('initial driving frame: %d', initial)

        # 6. generate and write
        total = len(kp_driving['value'])
        with self._bar(total, 'animating') as bar:
            start = 0
            for frames in animator.generate(kp_driving, initial, self.batch_size):
                marks = (None if driving_landmarks is None else
                         (driving_landmarks[start:start + frames.shape[1]],
                          driving_landmarks[initial]))
                writer.write(self.render(frames, compositor, marks))
                start += frames.shape[1]
                bar.update(frames.shape[1])
                report('animating', writer.frames_written, total)
        return writer
