"""What :meth:`FirstOrderPredictor.run` accepts besides file paths: a photo as an array and
driving frames in memory (an array or any iterable of frames), with the same interface as
:class:`~ppfom.utils.video.VideoReader`."""
import os

import numpy as np

from ..utils.image_io import read_image
from ..utils.video import VideoReader

DEFAULT_FPS = 30.0  # frame rate of a result made from in-memory frames when none is given


def _describe(array):
    return f'shape {tuple(array.shape)} dtype {array.dtype}'


def check_frame(frame, what):
    """``frame`` as an ``(H, W, 3)`` uint8 array; ``ValueError`` (naming ``what``, never
    printing the pixels) for anything else."""
    frame = np.asarray(frame)
    if (frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8
            or min(frame.shape[:2]) < 1):
        raise ValueError(f'{what} must be an (H, W, 3) uint8 RGB array, got {_describe(frame)}; '
                         'convert it with ppfom.utils.image_io.to_rgb_uint8')
    return frame


def load_source(source_image):
    """The photo as ``(H, W, 3)`` RGB uint8 from a path or an array.

    Raises:
        ImageReadError: a path that is missing or not an image.
        ValueError: an array of another shape or dtype, or another type of object.
    """
    if isinstance(source_image, (str, os.PathLike)):
        return read_image(os.fspath(source_image))
    if isinstance(source_image, np.ndarray):
        return check_frame(source_image, 'source_image')
    raise ValueError('source_image must be a file path or an (H, W, 3) uint8 RGB array, got '
                     f'{type(source_image).__name__}')


class FrameSequence:
    """Driving frames held in memory, read like a :class:`VideoReader`.

    Args:
        frames: a ``(T, H, W, 3)`` uint8 RGB array or an iterable of ``(H, W, 3)`` uint8 RGB
            frames (a generator is read once and kept).
        fps: frame rate of the result (default :data:`DEFAULT_FPS`).
    Raises:
        ValueError: no frame, a frame of another shape or dtype, frames of different sizes, a
            frame rate that is not positive.
    """
    path = None
    has_audio = False

    def __init__(self, frames, fps=None):
        self.fps = float(fps or DEFAULT_FPS)
        if self.fps <= 0:
            raise ValueError(f'fps must be positive, got {fps}')
        if isinstance(frames, np.ndarray) and frames.ndim == 4:
            frames = list(frames)
        self._frames = []
        for i, frame in enumerate(frames):
            frame = check_frame(frame, f'driving frame {i}')
            if self._frames and frame.shape != self._frames[0].shape:
                raise ValueError(f'driving frame {i} is {frame.shape[1]}x{frame.shape[0]}, frame 0 '
                                 f'{self._frames[0].shape[1]}x{self._frames[0].shape[0]}; give '
                                 'frames of one size')
            self._frames.append(frame)
        if not self._frames:
            raise ValueError('driving_video has no frames; give at least one (H, W, 3) frame')
        h, w = self._frames[0].shape[:2]
        self.size = (w, h)
        self.frame_count = len(self._frames)

    def frames(self):
        """Yield every frame, in order."""
        yield from self._frames

    def batches(self, batch_size):
        """Yield ``(B, H, W, 3)`` arrays of up to ``batch_size`` consecutive frames."""
        for start in range(0, self.frame_count, batch_size):
            yield np.stack(self._frames[start:start + batch_size])


def open_driving(driving_video, fps=None):
    """A :class:`VideoReader` for a path, a :class:`FrameSequence` for frames in memory.

    Raises:
        VideoReadError: a path that is missing or not a video.
        ValueError: frames that are not ``(H, W, 3)`` uint8, a string that is not a path.
    """
    if isinstance(driving_video, (str, os.PathLike)):
        return VideoReader(os.fspath(driving_video))
    if isinstance(driving_video, (bytes, dict)) or not hasattr(driving_video, '__iter__'):
        raise ValueError('driving_video must be a file path, a (T, H, W, 3) uint8 array or an '
                         f'iterable of (H, W, 3) frames, got {type(driving_video).__name__}')
    return FrameSequence(driving_video, fps)


class FrameCollector:
    """Collects the result's frames instead of encoding them (``run(..., return_frames=True)``);
    used like a :class:`~ppfom.utils.video.VideoWriter`."""

    def __init__(self):
        self._parts, self.frames_written = [], 0

    def write(self, frames):
        frames = np.asarray(frames)
        frames = frames[None] if frames.ndim == 3 else frames
        self._parts.append(frames)
        self.frames_written += len(frames)

    def result(self):
        """``(T, H, W, 3)`` uint8: every frame written."""
        return np.concatenate(self._parts)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
