"""``FirstOrderPredictor``: the Python API behind the CLI, notebooks and web UIs."""
import os

import paddle
from tqdm import tqdm

from ..inference import EagerBackend
from ..utils.image_io import read_image
from ..utils.logger import get_logger
from ..utils.video import VideoReader, VideoWriter, check_writable_folder
from .animation import Animator, MotionOptions
from .model_loading import load_networks, resolve_model


class FeatureUnavailable(ValueError):
    """An option whose feature is not in this version of ppfom."""


def _concat_kp(parts):
    import numpy as np
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


class FirstOrderPredictor:
    """Animate a photo with a driving video (First Order Motion Model).

    Arguments follow PaddleGAN's ``FirstOrderPredictor``; ``run(source_image, driving_video)``
    writes ``output/filename`` and returns its path.

    Args:
        output: output folder. filename: name of the result (``result.mp4``).
        weight_path: a FOMM ``.pdparams`` (PaddleGAN layout, trainer checkpoint or converted).
        config: YAML with a ``model`` section (default: the model's own config).
        model: a model zoo name (``vox256``, ``vox512``, ``vox-mobile``); see
            :mod:`ppfom.utils.model_zoo`.
        relative, adapt_scale, find_best_frame, best_frame: see :class:`MotionOptions`.
        image_size: resolution the networks run at (256; 512 selects the 512 model).
        batch_size: driving frames per network call (the frames are identical for any value).
        mobile_net: PaddleGAN's lightweight model.
        audio: copy the driving video's audio into the result.
        device: ``'cpu'``, ``'gpu'`` or None (Paddle's default).
        ratio, face_detector, multi_person, face_enhancement, slice_size: face options; face
            detection and enhancement are not in this version and raise
            :class:`FeatureUnavailable` when asked for.
        progress: show tqdm progress bars.
    Raises (from the constructor): ValueError subclasses with one-line messages for bad options,
    ``CheckpointError`` for weights that do not fit, ``DownloadError`` when weights are missing.
    """

    def __init__(self, output='output', weight_path=None, config=None, relative=False,
                 adapt_scale=False, find_best_frame=False, best_frame=None, ratio=1.0,
                 filename='result.mp4', face_detector=None, multi_person=False, image_size=None,
                 face_enhancement=False, batch_size=1, mobile_net=False, slice_size=0,
                 model=None, audio=True, device=None, progress=True):
        for flag, asked in (('--multi_person', multi_person),
                            ('--face_enhancement', face_enhancement),
                            ('--face_detector', face_detector is not None),
                            ('--ratio', ratio != 1.0), ('--slice_size', bool(slice_size))):
            if asked:
                raise FeatureUnavailable(f'{flag} needs face detection/enhancement, which is not '
                                         'in this version of ppfom yet; run without it')
        if batch_size < 1:
            raise ValueError(f'--batch_size must be at least 1, got {batch_size}')
        if best_frame is not None and best_frame < 0:
            raise ValueError(f'--best_frame must be a frame index >= 0, got {best_frame}')
        if device:
            paddle.set_device(device)
        self.output, self.filename = output, filename
        self.batch_size, self.audio, self.progress = batch_size, audio, progress
        self.options = MotionOptions(relative=relative, adapt_scale=adapt_scale,
                                     find_best_frame=find_best_frame, best_frame=best_frame)
        self.model = resolve_model(model=model, config=config, weight_path=weight_path,
                                   image_size=image_size, mobile_net=mobile_net)
        self.kp_detector, self.generator = load_networks(self.model)
        self.backend = EagerBackend(self.kp_detector, self.generator)
        self.logger = get_logger()

    def _bar(self, total, desc):
        return tqdm(total=total, desc=desc, unit='frame', disable=not self.progress)

    def run(self, source_image, driving_video):
        """Animate ``source_image`` (path of a photo) with ``driving_video`` (path of a video).

        Steps: read the photo; open the driving video; source keypoints and features (once);
        keypoints of every driving frame (streamed in batches); choose the initial frame;
        normalise the motion and generate, encoding frames as they come; mux the audio; publish
        the file. Returns the output path. On any error nothing is left at the output path.
        """
        source = read_image(source_image)
        driving = VideoReader(driving_video)
        check_writable_folder(self.output)
        out_path = os.path.join(self.output, self.filename)
        animator = Animator(self.backend, self.model.image_size, self.options)
        animator.set_source(source[None])

        total = driving.frame_count
        parts = []
        with self._bar(total, 'keypoints') as bar:
            for frames in driving.batches(self.batch_size):
                parts.append(animator.keypoints(frames))
                bar.update(len(frames))
        kp_driving = _concat_kp(parts)
        initial = animator.initial_frame(kp_driving)
        if self.options.find_best_frame or self.options.best_frame is not None:
            self.logger.info('initial driving frame: %d', initial)

        audio_from = driving.path if (self.audio and driving.has_audio) else None
        with VideoWriter(out_path, driving.fps, audio_from=audio_from) as writer, \
                self._bar(len(kp_driving['value']), 'animating') as bar:
            for frames in animator.generate(kp_driving, initial, self.batch_size):
                writer.write(frames[0])
                bar.update(len(frames))
        self.logger.info('wrote %s (%d frames, %.2f fps%s)', out_path, writer.frames_written,
                         driving.fps, ', with audio' if audio_from else '')
        return out_path
