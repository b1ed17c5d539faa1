"""Streaming video I/O on imageio-ffmpeg: decode in batches, encode as frames come, keep the audio,
and publish the result only when it is complete."""
import contextlib
import os
import re
import subprocess
import tempfile
from collections import namedtuple

import imageio_ffmpeg
import numpy as np

from .atomic import clean_stale, is_held, locked_temp, publish, temp_files
from .logger import get_logger


class VideoReadError(ValueError):
    """The driving video is missing, not a video, or has no frames."""


class VideoWriteError(OSError):
    """The result cannot be written (folder not writable, disk full, encoder failure)."""


class OutputPathError(ValueError):
    """The output file name cannot be honoured (empty, a folder, an unsupported container, one
    of the inputs, or being written by another run)."""


# containers the H.264 (+ AAC) writer honours; the file name's extension chooses one
CONTAINERS = ('.mp4', '.m4v', '.mov', '.mkv', '.avi')


def check_output_name(filename):
    """Raise :class:`OutputPathError` unless ``filename`` is a file name ending in one of
    :data:`CONTAINERS` (e.g. ``anim.gif``: the writer cannot honour it)."""
    name = os.path.basename(filename or '')
    if not name or name in ('.', '..'):
        raise OutputPathError(f'--filename {filename!r} is not a file name; pass e.g. result.mp4')
    ext = os.path.splitext(name)[1].lower()
    if ext not in CONTAINERS:
        raise OutputPathError(f'--filename {filename}: ppfom writes {", ".join(CONTAINERS)} '
                              'videos; pick one of those extensions (convert to GIF afterwards '
                              'with ffmpeg)')


def check_not_an_input(path, inputs):
    """Raise :class:`OutputPathError` when ``path`` names one of the ``inputs`` files (the
    result would replace it)."""
    target = os.path.realpath(path)
    for src in filter(None, inputs):
        same = os.path.realpath(src) == target or (
            os.path.exists(src) and os.path.exists(path) and os.path.samefile(src, path))
        if same:
            raise OutputPathError(f'the output {path} is an input file; it would be overwritten: '
                                  'pass another --output or --filename')


VideoScan = namedtuple('VideoScan', 'times problems returncode')
VideoScan.__doc__ = """What :func:`scan_video` found: ``times`` the presentation time (s) of every
video packet, sorted; ``problems`` ffmpeg's error lines; ``returncode`` ffmpeg's exit code."""

# ffmpeg error lines that mean "this file is cut short or damaged" (not mere warnings)
DAMAGE_MARKERS = ('partial file', 'corrupt', 'Invalid data', 'moov atom not found',
                  'Invalid NAL unit', 'error reading header', 'End of file')
VFR_TOLERANCE = 0.25  # frame intervals off their median by more than this: variable frame rate


def scan_video(path):
    """Read every video packet of ``path`` without decoding (ffmpeg stream copy): their
    timestamps and any error ffmpeg reports. Fast (no decoding): used to refuse truncated files,
    to tell variable frame rates, and to check a written video before it is published."""
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), '-nostdin', '-hide_banner', '-v', 'error', '-i', path,
           '-map', '0:v:0', '-c', 'copy', '-f', 'framecrc', '-']
    proc = subprocess.run(cmd, capture_output=True)
    timebase, times = None, []
    for line in proc.stdout.decode(errors='replace').splitlines():
        if line.startswith('#tb 0:'):
            num, den = line.split(':', 1)[1].strip().split('/')
            timebase = int(num) / int(den)
        elif line and not line.startswith('#') and timebase:
            fields = [f.strip() for f in line.split(',')]
            times.append(int(fields[2]) * timebase)
    problems = [line.strip() for line in proc.stderr.decode(errors='replace').splitlines()
                if line.strip()]
    return VideoScan(sorted(times), problems, proc.returncode)


def is_variable_rate(times):
    """Whether frame times (s, sorted) are irregular: an interval more than
    :data:`VFR_TOLERANCE` away from the median interval."""
    steps = np.diff(np.asarray(times, dtype=np.float64))
    if len(steps) < 2:
        return False
    median = float(np.median(steps))
    return median > 0 and bool(np.any(np.abs(steps - median) > VFR_TOLERANCE * median))


# ffmpeg output options of every result: BT.709 conversion and tags, index at the front
COLOUR_OPTIONS = ('-vf', 'scale=out_color_matrix=bt709:out_range=tv,setparams=colorspace=bt709:'
                        'color_primaries=bt709:color_trc=bt709:range=tv',
                  '-colorspace', 'bt709', '-color_primaries', 'bt709', '-color_trc', 'bt709',
                  '-color_range', 'tv')
FASTSTART = ('-movflags', '+faststart')     # the index at the front (MP4 / MOV containers)


def encoder_options(ext):
    """ffmpeg output options of the writer for a file ending in ``ext``: BT.709 colours, and
    ``+faststart`` for the MP4 family."""
    return list(COLOUR_OPTIONS) + (list(FASTSTART) if ext in ('.mp4', '.m4v', '.mov') else [])


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
        self.constant_rate = False  # set by check() for variable frame-rate videos
        if self.fps <= 0:
            raise VideoReadError(f'{path} has no frame rate; is it a still image? Pass a video')

    def check(self, min_frames=2):
        """Check the whole file before any work (packets only, no decoding).

        Raises :class:`VideoReadError` for a truncated or damaged file, or one with fewer than
        ``min_frames`` frames (a still image is not a driving video). A variable frame-rate video
        (phones) is read at a constant ``fps`` from then on: each frame shows the driving frame
        of that instant (repeated or skipped as needed), so the result lasts as long as the
        driving video and its audio stays in step (logged as a warning).
        """
        scan = scan_video(self.path)
        damage = [line for line in scan.problems if any(m in line for m in DAMAGE_MARKERS)]
        if scan.returncode != 0 or damage:
            detail = (damage or scan.problems or ['ffmpeg failed'])[0]
            detail = re.sub(r'^\[[^\]]*\]\s*', '', detail)  # drop ffmpeg's "[h264 @ 0x...]"
            raise VideoReadError(f'driving video {self.path} is truncated or damaged (ffmpeg: '
                                 f'{detail[:120]}); download it again or re-encode it')
        if len(scan.times) < min_frames:
            raise VideoReadError(f'driving video {self.path} has {len(scan.times)} frame(s), '
                                 f'a still image is not a driving video; pass a video of at '
                                 f'least {min_frames} frames')
        if is_variable_rate(scan.times):
            self.constant_rate, self._frame_count = True, None
            get_logger().warning('%s has a variable frame rate: reading it at a constant %.2f '
                                 'fps (frames at their own times, audio in step)', self.path,
                                 self.fps)
        return self

    @property
    def frame_count(self):
        """Number of frames, counted by decoding once (exact, unlike the container's header)."""
        if self._frame_count is None and self.constant_rate:
            self._frame_count = sum(1 for _ in self.frames())
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
        timing = (['-fps_mode', 'cfr', '-r', f'{self.fps:.6f}'] if self.constant_rate
                  else ['-fps_mode', 'passthrough'])
        gen = imageio_ffmpeg.read_frames(self.path, pix_fmt='rgb24', output_params=timing)
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
    """Encode RGB uint8 frames to H.264 as they come, optionally muxing the audio of another
    file, and publish it at ``path`` only on success.

    Frames go to a locked temporary file in the destination folder (with ``path``'s extension:
    the container is the one the name asks for, see :data:`CONTAINERS`); :meth:`close` checks
    the finished file (every frame readable, the index present: a full disk is caught here) and
    renames it to ``path`` (atomic on one file system). If the ``with`` block raises, the
    temporary file is deleted and ``path`` is left untouched: no half-written video ever
    appears. Temporary files of killed earlier runs in the folder are deleted
    (:func:`ppfom.utils.atomic.clean_stale`); a live run writing the same ``path`` is refused
    with :class:`OutputPathError`.

    Args:
        path: destination (``.mp4``, ``.mov``, ``.mkv``, ``.m4v`` or ``.avi``).
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
        self._gen, self._fd = None, None
        check_output_name(os.path.basename(path))
        self.path = os.path.abspath(path)
        folder = os.path.dirname(self.path)
        check_writable_folder(folder)
        clean_stale(folder, CONTAINERS)
        ext = os.path.splitext(self.path)[1].lower()
        try:
            self._fd, self.tmp_path = locked_temp(self.path, ext)
        except OSError as exc:
            raise VideoWriteError(f'cannot write to {folder} ({exc.strerror}); free disk space '
                                  'or pass another --output') from exc
        others = [p for p in temp_files(folder, os.path.basename(self.path), (ext,))
                  if p != self.tmp_path and is_held(p)]
        if others:
            self.abort()
            raise OutputPathError(f'another ppfom run is writing {self.path} right now; wait for '
                                  'it to finish or pass another --filename')
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
                      ffmpeg_log_level='error', codec='libx264',
                      output_params=encoder_options(os.path.splitext(self.path)[1].lower()))
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
        try:
            for frame in frames:
                self._gen.send(np.ascontiguousarray(frame))
        except (OSError, RuntimeError) as exc:
            self.abort()
            raise VideoWriteError(f'encoding {self.path} failed ({exc}); is the disk full? Free '
                                  'space or pass another --output') from exc
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
        self._gen = None
        scan = scan_video(self.tmp_path)
        if scan.returncode != 0 or len(scan.times) != self.frames_written:
            self.abort()
            raise VideoWriteError(f'writing {self.path} failed: the encoded file is incomplete '
                                  f'({len(scan.times)} of {self.frames_written} frames readable); '
                                  'is the disk full? Free space or pass another --output')
        try:
            publish(self.tmp_path, self.path)
        except OSError as exc:
            self.abort()
            raise VideoWriteError(f'cannot publish {self.path} ({exc.strerror})') from exc
        self._release()

    def abort(self):
        """Stop and delete the temporary file; ``path`` is not touched."""
        if self._gen is not None:
            with contextlib.suppress(Exception):
                self._gen.close()
            self._gen = None
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.tmp_path)
        self._release()

    def _release(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False
