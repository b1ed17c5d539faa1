"""Streaming video I/O on imageio-ffmpeg: decode in batches, encode as frames come, keep the audio,
and publish the result only when it is complete."""
import contextlib
import os
import tempfile

import imageio_ffmpeg
import numpy as np

from .atomic import publish
from .logger import get_logger


class VideoReadError(ValueError):
    """The driving video is missing, not a video, or has no frames."""


class VideoWriteError(OSError):
    """The result cannot be written (folder not writable, encoder failure)."""


# ffmpeg output options of every result: BT.709 conversion and tags, index at the front
MP4_OPTIONS = ('-vf', 'scale=out_color_matrix=bt709:out_range=tv,setparams=colorspace=bt709:'
                     'color_primaries=bt709:color_trc=bt709:range=tv',
               '-colorspace', 'bt709', '-color_primaries', 'bt709', '-color_trc', 'bt709',
               '-color_range', 'tv', '-movflags', '+faststart')


class VideoReader:
    """A video file read as a stream of RGB uint8 frames.

    Attributes (read from the container when opened):
        fps: frames per second (float). size: ``(W, H)`` in pixels. has_audio: an audio stream
        exists. codec: the video codec name.
    Raises:
        VideoReadError: missing file, empty file, or a file ffmpeg cannot decode as video.
    """

    def __init__(self, path):
        if not os.path.isfile(path):
            raise VideoReadError(f'driving video not found: {path}; check --driving_video')
        if os.path.getsize(path) == 0:
            raise VideoReadError(f'driving video {path} is empty (0 bytes); pass a real video')
        self.path = path
        gen = imageio_ffmpeg.read_frames(path)
        try:
            meta = next(gen)
        except (RuntimeError, OSError, StopIteration) as exc:
            raise VideoReadError(f'cannot decode {path} as a video; pass an mp4/avi/mov/gif '
                                 'driving video') from exc
        finally:
            gen.close()
        self.fps = float(meta.get('fps') or 0.0)
        self.size = tuple(meta['size'])
        self.has_audio = bool(meta.get('audio_codec'))
        self.codec = meta.get('codec')
        self._frame_count = None
        if self.fps <= 0:
            raise VideoReadError(f'{path} has no frame rate; is it a still image? Pass a video')

    @property
    def frame_count(self):
        """Number of frames, counted by decoding once (exact, unlike the container's header)."""
        if self._frame_count is None:
            try:
                self._frame_count = imageio_ffmpeg.count_frames_and_secs(self.path)[0]
            except (RuntimeError, OSError) as exc:
                raise VideoReadError(f'cannot decode {self.path}: {exc}') from exc
        return self._frame_count

    def frames(self):
        """Yield every frame as ``(H, W, 3)`` RGB uint8, in order."""
        w, h = self.size
        # passthrough: one frame per decoded frame (the default may duplicate frames of variable
        # frame-rate videos, e.g. 212 instead of 211)
        gen = imageio_ffmpeg.read_frames(self.path, pix_fmt='rgb24',
                                         output_params=['-fps_mode', 'passthrough'])
        try:
            next(gen)
            for raw in gen:
                yield np.frombuffer(raw, dtype=np.uint8).reshape(h, w, 3)
        finally:
            gen.close()

    def batches(self, batch_size):
        """Yield ``(B, H, W, 3)`` uint8 arrays of up to ``batch_size`` consecutive frames; memory
        stays at one batch whatever the video's length. Raises :class:`VideoReadError` if the
        video has no frame at all."""
        batch, any_frame = [], False
        for frame in self.frames():
            any_frame = True
            batch.append(frame)
            if len(batch) == batch_size:
                yield np.stack(batch)
                batch = []
        if batch:
            yield np.stack(batch)
        if not any_frame:
            raise VideoReadError(f'driving video {self.path} has no frames; pass another video')


def check_writable_folder(folder):
    """Create ``folder`` if needed and make sure files can be written there.

    Raises :class:`VideoWriteError` (one line, names the folder) otherwise.
    """
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise VideoWriteError(f'cannot write to output folder {folder} ({exc.strerror}); pass a '
                              'writable folder with --output') from exc


class VideoWriter:
    """Encode RGB uint8 frames to an H.264 mp4 as they come, optionally muxing the audio of
    another file, and publish it at ``path`` only on success.

    Frames go to a temporary file in the destination folder; :meth:`close` renames it to
    ``path`` (atomic on one file system). If the ``with`` block raises, the temporary file is
    deleted and ``path`` is left untouched: no half-written video ever appears.

    Args:
        path: destination ``.mp4``.
        fps: frame rate (the driving video's).
        audio_from: a media file whose first audio stream is copied (re-encoded to AAC), or None.
        quality: imageio-ffmpeg quality, 0-10.
        duration: the video's length in seconds when known: the audio is trimmed or padded with
            silence to it (else it is muxed as it is).
    Frame sizes must be constant; odd sizes are padded by one pixel (edge replicate) because
    yuv420p needs even dimensions — frames are never resized.

    The file streams (``+faststart``: the index is at the front) and says how its colours are
    coded: RGB is converted with the BT.709 matrix to limited-range YUV and tagged BT.709, so
    players show the colours the frames had.
    """

    def __init__(self, path, fps, audio_from=None, quality=8, duration=None):
        self.path = os.path.abspath(path)
        folder = os.path.dirname(self.path)
        check_writable_folder(folder)
        fd, self.tmp_path = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.',
                                             suffix='.mp4', dir=folder)
        os.close(fd)
        self.fps, self.audio_from, self.quality = fps, audio_from, quality
        self.duration = duration
        self._gen, self._size, self.frames_written = None, None, 0

    def _open(self, h, w):
        self._size = (h, w)
        pad_h, pad_w = h % 2, w % 2
        if pad_h or pad_w:
            get_logger().warning('frames are %dx%d; padding to %dx%d for the yuv420p encoder',
                                 w, h, w + pad_w, h + pad_h)
        self._pad = (pad_h, pad_w)
        kwargs = dict(fps=self.fps, quality=self.quality, macro_block_size=1,
                      ffmpeg_log_level='error', codec='libx264', output_params=list(MP4_OPTIONS))
        if self.audio_from:
            kwargs.update(audio_path=self.audio_from, audio_codec='aac')
            if self.duration:
                kwargs['output_params'] += ['-af', f'apad,atrim=end={self.duration:.6f}']
        self._gen = imageio_ffmpeg.write_frames(self.tmp_path, (w + pad_w, h + pad_h), **kwargs)
        self._gen.send(None)

    def write(self, frames):
        """Append one ``(H, W, 3)`` frame or a ``(B, H, W, 3)`` batch of RGB uint8 frames."""
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        if frames.dtype != np.uint8:
            raise TypeError(f'frames must be uint8, got {frames.dtype}')
        if self._gen is None:
            self._open(*frames.shape[1:3])
        if frames.shape[1:3] != self._size:
            raise ValueError(f'frame size changed from {self._size} to {frames.shape[1:3]}')
        if any(self._pad):
            frames = np.pad(frames, ((0, 0), (0, self._pad[0]), (0, self._pad[1]), (0, 0)),
                            mode='edge')
        for frame in frames:
            self._gen.send(np.ascontiguousarray(frame))
        self.frames_written += len(frames)

    def close(self):
        """Finish encoding and move the file to ``path``. Raises :class:`VideoWriteError` if
        no frame was written or the encoder failed."""
        if self._gen is None:
            self.abort()
            raise VideoWriteError(f'no frame was written to {self.path}')
        try:
            self._gen.close()
        except (RuntimeError, OSError) as exc:
            self.abort()
            raise VideoWriteError(f'encoding {self.path} failed: {exc}') from exc
        publish(self.tmp_path, self.path)
        self._gen = None

    def abort(self):
        """Stop and delete the temporary file; ``path`` is not touched."""
        if self._gen is not None:
            with contextlib.suppress(Exception):
                self._gen.close()
            self._gen = None
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.tmp_path)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False
