"""``FirstOrderPredictor``: the Python API behind the CLI, notebooks and web UIs."""
import os

import cv2
import numpy as np
import paddle
from tqdm import tqdm

from ..utils.image_io import read_image
from ..utils.logger import get_logger
from ..utils.video import (VideoReader, VideoWriter, check_not_an_input, check_output_name,
                           check_writable_folder)
from . import defaults
from .animation import Animator, MotionOptions
from .faces import DrivingCropper, FaceOptions, PhotoCompositor, select_face_crops
from .landmarks import FaceLandmarks, animated_landmarks, fill_missing
from .model_loading import make_backend, resolve_model

MAX_PHOTO_SIDE = 1920  # larger photos are downscaled (logged); the video has the photo's size


def _concat_kp(parts):
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


class FirstOrderPredictor:
    """Animate a photo with a driving video (First Order Motion Model).

    Arguments follow PaddleGAN's ``FirstOrderPredictor``; ``run(source_image, driving_video)``
    writes ``output/filename`` and returns its path.

    Args:
        output: output folder. filename: name of the result (``result.mp4``).
        weight_path: a FOMM ``.pdparams`` (PaddleGAN layout, trainer checkpoint or converted).
        config: YAML with a ``model`` section (default: the model's own config).
        model: a model zoo name (see :mod:`ppfom.utils.model_zoo`); default: the bundled model.
        relative, adapt_scale, find_best_frame, best_frame: see :class:`MotionOptions`.
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
        audio: copy the driving video's audio. device: ``'cpu'``, ``'gpu'`` or None.
        progress: show tqdm progress bars.
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

    def __init__(self, output=defaults.OUTPUT, weight_path=None, config=None, relative=False,
                 adapt_scale=False, find_best_frame=False, best_frame=None, ratio=defaults.RATIO,
                 filename=defaults.FILENAME, face_detector=defaults.FACE_DETECTOR,
                 multi_person=False, image_size=None, face_enhancement=False, paste=defaults.PASTE,
                 batch_size=defaults.BATCH_SIZE, mobile_net=False, model=None,
                 detector_weights=None, crop=True, crop_driving=defaults.CROP_DRIVING,
                 enhancer=defaults.ENHANCER, enhancer_weights=None, backend=defaults.BACKEND,
                 precision=defaults.PRECISION, threads=None, rebuild_export=False, audio=True,
                 device=None, progress=True):
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

    def read_photo(self, path):
        """Step 1 of :meth:`run`: the photo as RGB uint8, downscaled when larger than
        ``MAX_PHOTO_SIDE``."""
        photo = read_image(path)
        side = max(photo.shape[:2])
        if side > MAX_PHOTO_SIDE:
            scale = MAX_PHOTO_SIDE / side
            size = (round(photo.shape[1] * scale), round(photo.shape[0] * scale))
            self.logger.info('photo is %dx%d: animating a %dx%d copy', photo.shape[1],
                             photo.shape[0], *size)
            photo = cv2.resize(photo, size, interpolation=cv2.INTER_AREA)
        return photo

    def driving_keypoints(self, animator, driving, cropper, landmarks=None):
        """Step 4 of :meth:`run`: keypoints of every driving frame, decoded and cropped in
        batches; with ``landmarks`` (:class:`FaceLandmarks`), also the FaceMesh landmarks of every
        frame (``(T, 468, 2)`` in ``[0, 1]`` of the crop, frames without a face holding the last
        face's), from which models that read landmarks take their keypoints.
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

    def run(self, source_image, driving_video):
        """Animate ``source_image`` (path of a photo) with ``driving_video`` (path of a video).

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

        Returns the output path. On any error nothing is left at the output path.
        """
        # 1. inputs, and the output (reserved now: a second run writing it is refused at once)
        photo = self.read_photo(source_image)
        driving = VideoReader(driving_video).check()
        check_writable_folder(self.output)
        out_path = os.path.join(self.output, self.filename)
        check_not_an_input(out_path, [source_image, driving_video])
        audio_from = driving.path if (self.audio and driving.has_audio) else None
        with VideoWriter(out_path, driving.fps, audio_from=audio_from) as writer:
            self._animate(photo, driving, writer, source_image)
        self.logger.info('wrote %s (%d frames, %.2f fps%s)', out_path, writer.frames_written,
                         driving.fps, ', with audio' if audio_from else '')
        return out_path

    def _animate(self, photo, driving, writer, source_image):
        """Steps 2-6 of :meth:`run`, writing to ``writer``."""
        # 2. what to animate
        crops = select_face_crops(photo, self.detector.detect, self.faces, source_image) \
            if self.faces.crop else None
        if crops:
            self.logger.info('animating %d face(s)', len(crops))
        compositor = PhotoCompositor(photo, crops, self.faces.ratio, self.faces.paste)

        # 3. the sources, once (with their landmarks when the model or the paste needs them)
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

        # 4. driving keypoints (and landmarks)
        cropper = DrivingCropper(self.tracker.detect if self.tracker else None, self.faces,
                                 detect_anchor=self.detector.detect if self.detector else None)
        cropper.prepare(driving)
        kp_driving, driving_landmarks = self.driving_keypoints(animator, driving, cropper,
                                                               landmarks)

        # 5. initial frame
        initial = animator.initial_frame(kp_driving)
        if self.options.find_best_frame or self.options.best_frame is not None:
            self.logger.info('initial driving frame: %d', initial)

        # 6. generate and write
        with self._bar(len(kp_driving['value']), 'animating') as bar:
            start = 0
            for frames in animator.generate(kp_driving, initial, self.batch_size):
                if self.enhancer is not None:
                    frames = self.enhance(frames)
                heads = None
                if compositor.needs_landmarks:
                    heads = animated_landmarks(
                        source_landmarks, driving_landmarks[start:start + frames.shape[1]],
                        driving_landmarks[initial], self.options)
                writer.write(compositor.compose(frames, heads))
                start += frames.shape[1]
                bar.update(frames.shape[1])
