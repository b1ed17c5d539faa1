"""Live animation: a camera (or a video played as one) drives the photo in real time.

:class:`LiveAnimator` runs the file demo's own steps (:class:`~ppfom.apps.FirstOrderPredictor`'s
``read_photo``, ``prepare_source`` and ``render``; :class:`~ppfom.apps.animation.Animator`'s
``keypoints`` and ``animate``) on one driving frame at a time, in four threads: capture, tracking
(:meth:`LiveAnimator.track`: face, landmarks, keypoints), animation (:meth:`LiveAnimator.finish`:
generation and paste) and output; the tracking of frame t + 1 runs while frame t is generated
(Paddle Inference releases Python's GIL while a program runs). Between the threads sits a
:class:`LatestSlot` holding only the newest item: a frame the animator cannot keep up with is
replaced (dropped), never queued, so the latency stays bounded (about one capture interval plus
one tracking and one animation step plus the delivery).

The motion is relative to a reference driving frame (the first frame with a face, taken again on
:meth:`LiveAnimator.request_reset`), as avatarify's 'X'. The driving face is followed frame by
frame and cropped by the file demo's rule (:class:`ppfom.faceutils.tracking.FaceFollower`); with
no face in view the photo stays still and the status says why, until a face returns.

Used by ``applications/tools/live-demo.py``, the web page's Live tab
(:mod:`ppfom.apps.web_live`) and ``benchmarks/bench_live.py``.
"""
import collections
import threading
import time
from dataclasses import dataclass

import cv2
import numpy as np

from ..faceutils.crop import crop_square
from ..faceutils.tracking import FaceFollower
from ..utils.logger import get_logger
from ..utils.video import VideoReader, VideoWriter

NO_FACE = 'no face in view: the photo stays still until a face returns'
STALL_TIMEOUT = 3.0  # seconds without a frame from a camera before it counts as stopped


class LiveInputError(ValueError):
    """The live input cannot be used (no camera at that index, a camera that stopped)."""


@dataclass
class LiveFrame:
    """One frame on its way: ``index`` (driving frame number from 0), ``time`` (capture time,
    ``time.monotonic()`` seconds), ``image`` (``(H, W, 3)`` uint8 RGB) and ``status`` (a message
    for the viewer, '' when animating normally)."""
    index: int
    time: float
    image: np.ndarray
    status: str = ''


class LatestSlot:
    """A one-place mailbox where the newest item wins: :meth:`put` replaces an item not yet
    taken (counted in ``dropped``), :meth:`get` waits for an item and takes it."""

    def __init__(self):
        self._cond = threading.Condition()
        self._item = None
        self.dropped = 0
        self.taken_at = None  # time.monotonic() when an item was last taken

    def put(self, item):
        with self._cond:
            if self._item is not None:
                self.dropped += 1
            self._item = item
            self._cond.notify_all()

    def get(self, timeout=None):
        """The newest item, or None after ``timeout`` seconds without one."""
        with self._cond:
            if self._item is None:
                self._cond.wait(timeout)
            item, self._item = self._item, None
            if item is not None:
                self.taken_at = time.monotonic()
                self._cond.notify_all()
            return item

    def wait_taken(self, timeout=None):
        """Wait until the slot is empty (its item taken), at most ``timeout`` seconds; returns
        whether it is."""
        with self._cond:
            return self._cond.wait_for(lambda: self._item is None, timeout)


class CameraSource:
    """Frames of an OpenCV camera (``cv2.VideoCapture(index)``) as ``(H, W, 3)`` uint8 RGB.

    Raises:
        LiveInputError: no camera opens at ``index``.
    """
    live = True

    def __init__(self, index):
        self.index = index
        self.capture = cv2.VideoCapture(index)
        if not self.capture.isOpened():
            self.capture.release()
            raise LiveInputError(f'no camera at index {index}; plug one in, try another --camera '
                                 'number, or pass --driving_video FILE')
        self.fps = float(self.capture.get(cv2.CAP_PROP_FPS) or 0) or 30.0
        self.name = f'camera {index}'

    def read(self):
        """The next frame, or None when the camera gave none this time."""
        ok, frame = self.capture.read()
        if not ok or frame is None:
            time.sleep(0.01)
            return None
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)

    def close(self):
        self.capture.release()


class FileSource:
    """A video file played as a camera: frame ``i`` is delivered at ``i / fps`` seconds after the
    first (its own frame rate, or ``fps``), whatever the animator does; ``loop`` plays it again
    at the end. Raises :class:`~ppfom.utils.video.VideoReadError` for a file that is no video."""
    live = False

    def __init__(self, path, fps=None, loop=False):
        self.reader = VideoReader(path)
        self.fps = float(fps or self.reader.fps)
        self.loop = loop
        self.name = path
        self._frames = None
        self._start = None
        self._count = 0
        self.position = None
        self.skipped = 0

    def read(self):
        """The next frame at its time (sleeps until then), or ``StopIteration`` at the end.
        Frames whose time passed more than one interval ago are skipped, as a camera would
        (counted in ``skipped``); ``position`` is the index of the frame returned."""
        while True:
            frame = self._next()
            now = time.monotonic()
            if self._start is None:
                self._start = now
            due = self._start + self._count / self.fps
            self.position, self._count = self._count, self._count + 1
            if due >= now - 1 / self.fps:
                break
            self.skipped += 1
        if due > now:
            time.sleep(due - now)
        return frame

    def _next(self):
        if self._frames is None:
            self._frames = self.reader.frames()
        try:
            return next(self._frames)
        except StopIteration:
            if not self.loop or self._count == 0:
                raise
            self._frames = self.reader.frames()
            return next(self._frames)

    def close(self):
        if self._frames is not None:
            self._frames.close()


class LiveStats:
    """Delivered frames per second, latency (capture to delivery) and dropped share."""

    def __init__(self, window=2.0, keep=100_000):
        self.window = window
        self.captured = self.delivered = 0
        self.latencies = collections.deque(maxlen=keep)  # seconds, every delivered frame
        self._times = collections.deque(maxlen=1000)     # delivery times, for the recent fps
        self._lock = threading.Lock()

    def capture(self):
        """Count one frame of the input."""
        with self._lock:
            self.captured += 1

    def deliver(self, frame, now):
        with self._lock:
            self.delivered += 1
            self.latencies.append(now - frame.time)
            self._times.append(now)

    def fps(self, now=None):
        """Frames delivered per second over the last ``window`` seconds."""
        now = time.monotonic() if now is None else now
        with self._lock:
            recent = [t for t in self._times if t > now - self.window]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-6)

    def dropped_share(self):
        """Share of the captured frames never delivered."""
        with self._lock:
            return 1 - self.delivered / self.captured if self.captured else 0.0

    def latency(self, last=None):
        """``(median, 95th percentile)`` latency in seconds (of the ``last`` frames)."""
        with self._lock:
            values = list(self.latencies)[-last:] if last else list(self.latencies)
        if not values:
            return float('nan'), float('nan')
        return float(np.median(values)), float(np.percentile(values, 95))

    def readout(self):
        """One line: fps, latency of the last 50 frames, dropped share."""
        median, p95 = self.latency(last=50)
        return (f'{self.fps():.1f} fps, latency {1000 * median:.0f} ms (p95 {1000 * p95:.0f} ms), '
                f'dropped {100 * self.dropped_share():.0f}%')


class LiveAnimator:
    """Animate a photo from live driving frames, newest frame first (see the module's text).

    Args:
        predictor: a :class:`~ppfom.apps.FirstOrderPredictor` (model, backend, face and motion
            options, as the file demo); its backend then holds this photo as its source.
        source_image: path of the photo, or ``(H, W, 3)`` uint8 RGB.
        stall_timeout: seconds without a frame before a camera counts as stopped.
    Raises (constructor): as :meth:`FirstOrderPredictor.prepare_source` (``NoFaceError`` for a
    photo without face when cropping).

    Use :meth:`process` for one frame, or :meth:`start` / :meth:`wait` / :meth:`stop` with a
    source (:class:`CameraSource`, :class:`FileSource`, or None and :meth:`submit`) and sinks
    (callables taking a :class:`LiveFrame`, called on the output thread).
    """

    def __init__(self, predictor, source_image, stall_timeout=STALL_TIMEOUT):
        self.predictor = predictor
        self.logger = get_logger()
        photo = (predictor.read_photo(source_image) if isinstance(source_image, str)
                 else np.ascontiguousarray(source_image[..., :3]))
        self.animator, self.compositor, self.landmarks = predictor.prepare_source(photo)
        rest = self.animator.rest()
        # the photo at rest: shown until the first face, and whenever no face is in view
        self.still = predictor.render(rest[:, None], self.compositor)[0]
        tracker = predictor.tracker
        self.follower = (FaceFollower(tracker.detect, scale=predictor.faces.crop_scale,
                                      anchored=predictor.faces.crop)
                         if tracker is not None else None)
        self.stall_timeout = stall_timeout
        self.kp_initial = self.initial_landmarks = self.last_landmarks = None
        self.reference_index = None
        self.cropping = False
        self._reset = threading.Event()
        self._lock = threading.Lock()
        self.stats = LiveStats()
        self._threads = []
        self.source, self.error, self.latest = None, None, None

    # -- one frame ---------------------------------------------------------------------------
    def request_reset(self):
        """Take the next driving frame with a face as the new reference (the pose that shows the
        photo as it is)."""
        self._reset.set()

    def process(self, frame, index=None):
        """One driving frame ``(H, W, 3)`` uint8 RGB -> ``(output (h, w, 3) uint8 RGB, status)``:
        :meth:`track` then :meth:`finish`, the file demo's steps for one frame."""
        return self.finish(self.track(frame, index))

    def track(self, frame, index=None):
        """Steps 1-3 for one driving frame ``(H, W, 3)`` uint8 RGB: (1) follow and crop the
        driving face, (2) its FaceMesh landmarks where the model or the paste reads them, (3) its
        keypoints, and the reference frame's when one is to be taken. Returns what
        :meth:`finish` needs: ``(kp, kp_initial, heads)``, or ``(still image, status)`` when no
        face is in view."""
        with self._lock:
            reset = self._reset.is_set() or self.kp_initial is None
            crop = None
            if self.follower is not None:
                if reset:
                    self.follower.reset()
                crop = self.follower.update(frame)
                if crop is None:
                    return self.still, NO_FACE
            if reset:
                size = (frame.shape[1], frame.shape[0])
                if crop is None:
                    self.cropping = False
                else:
                    box = self.follower.box
                    side = max(box[2] - box[0], box[3] - box[1])
                    self.cropping = self.predictor.faces.crops_driving(
                        size, lambda: side / min(size))
            driving = crop_square(frame, crop, crop.size) if self.cropping else frame
            marks = None
            if self.landmarks is not None:  # FaceMesh, followed from frame to frame
                marks = self.landmarks.of_driving(driving[None])
                if not np.isfinite(marks).all():  # held from the last face, as the file demo
                    if self.last_landmarks is None:
                        return self.still, NO_FACE
                    marks = self.last_landmarks
                self.last_landmarks = marks
            kp = self.animator.keypoints(driving[None], marks)
            if reset:
                self.kp_initial, self.reference_index = kp, index
                self.initial_landmarks = None if marks is None else marks[0]
                self._reset.clear()
                self.logger.info('reference driving frame: %s', 'taken' if index is None
                                 else index)
            heads = None if marks is None else (marks, self.initial_landmarks)
            return kp, self.kp_initial, heads

    def finish(self, tracked):
        """Steps 4-5 for what :meth:`track` returned: (4) the motion relative to the reference
        frame and generation, (5) paste-back -> ``(output (h, w, 3) uint8 RGB, status)``."""
        if len(tracked) == 2:  # no face: the still photo and why
            return tracked
        kp, kp_initial, heads = tracked
        frames = self.animator.animate(kp, kp_initial)
        return self.predictor.render(frames, self.compositor, heads)[0], ''

    # -- threads -----------------------------------------------------------------------------
    def start(self, source=None, sinks=()):
        """Start the animation and output threads, and a capture thread reading ``source`` (None:
        frames come from :meth:`submit`). Errors of any thread stop all and are raised by
        :meth:`wait`."""
        self.source, self.sinks = source, list(sinks)
        self.error = None
        self._stop = threading.Event()
        self._captured_all = threading.Event()
        self._tracked_all = threading.Event()
        self._animated_all = threading.Event()
        self._input, self._tracked, self._output = LatestSlot(), LatestSlot(), LatestSlot()
        self._step_seconds = {'track': 0.0, 'finish': 0.0}  # the last step of each, for pacing
        self.last_capture = time.monotonic()
        self.latest = None
        self._index = 0
        loops = [self._track_loop, self._animate_loop, self._output_loop]
        if source is not None:
            loops.insert(0, self._capture_loop)
        self._threads = [threading.Thread(target=self._guard, args=(f,), daemon=True,
                                          name=f'live-{f.__name__.strip("_")}') for f in loops]
        for thread in self._threads:
            thread.start()
        return self

    def submit(self, image, index=None):
        """Hand one driving frame ``(H, W, 3)`` uint8 RGB to the animator (replacing any frame it
        has not taken yet); with no source given to :meth:`start`. ``index``: its number
        (default: counted from 0)."""
        self.stats.capture()
        self.last_capture = time.monotonic()
        index = self._index if index is None else index
        self._input.put(LiveFrame(index, self.last_capture, image))
        self._index = index + 1

    @property
    def dropped(self):
        """Frames replaced before the animator (or the output) took them."""
        return self._input.dropped + self._tracked.dropped + self._output.dropped

    def _guard(self, loop):
        try:
            loop()
        except Exception as exc:  # noqa: BLE001 - handed to wait()
            if self.error is None:
                self.error = exc
            self._stop.set()

    def _capture_loop(self):
        skipped = 0
        try:
            ended = False
            while not ended and not self._stop.is_set():
                try:
                    image = self.source.read()
                except StopIteration:  # the frames skipped on the way to the end count too
                    image, ended = None, True
                new_skips = getattr(self.source, 'skipped', 0) - skipped
                skipped += new_skips
                for _ in range(new_skips):  # frames a camera would have shown, lost
                    self.stats.capture()
                if image is not None:
                    self.submit(image, getattr(self.source, 'position', None))
        finally:
            self._captured_all.set()

    def _items(self, slot, upstream_done):
        """Items taken from ``slot`` until stopped, or until ``upstream_done`` and ``slot`` is
        empty."""
        while not self._stop.is_set():
            item = slot.get(timeout=0.05)
            if item is not None:
                yield item
            elif upstream_done.is_set():
                return

    def _track_loop(self):
        try:
            for item in self._items(self._input, self._captured_all):
                started = time.monotonic()
                tracked = self.track(item.image, item.index)
                self._step_seconds['track'] = time.monotonic() - started
                self._tracked.put((item, tracked))
                self._pace()
        finally:
            self._tracked_all.set()

    def _pace(self):
        """Just in time: once the animation step has taken the tracked frame, wait so that the
        next frame's tracking ends when that step ends (a frame tracked earlier would wait,
        older, for the step: more latency, no more frames)."""
        while not self._stop.is_set() and not self._tracked.wait_taken(timeout=0.05):
            pass
        steps = self._step_seconds
        while not steps['finish'] and not self._stop.is_set():  # no estimate before the first
            self._stop.wait(0.005)
        if self._stop.is_set():
            return
        wait = steps['finish'] - steps['track'] - (time.monotonic() - self._tracked.taken_at)
        if wait > 0:
            self._stop.wait(wait)

    def _animate_loop(self):
        try:
            for item, tracked in self._items(self._tracked, self._tracked_all):
                started = time.monotonic()
                image, status = self.finish(tracked)
                self._step_seconds['finish'] = time.monotonic() - started
                self._output.put(LiveFrame(item.index, item.time, image, status))
        finally:
            self._animated_all.set()

    def _output_loop(self):
        for item in self._items(self._output, self._animated_all):
            self.stats.deliver(item, time.monotonic())
            self.latest = item
            for sink in self.sinks:
                sink(item)

    @property
    def running(self):
        return any(t.is_alive() for t in self._threads)

    def wait(self, timeout=None):
        """Wait until the source ends (a file), ``timeout`` seconds pass, or an error; raise the
        error (:class:`LiveInputError` for a camera that stopped delivering frames). Returns
        True when everything ended."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while (self.running and self.error is None
               and (deadline is None or time.monotonic() < deadline)):
            time.sleep(0.02)
            if (self.source is not None and self.source.live
                    and time.monotonic() - self.last_capture > self.stall_timeout):
                self.error = LiveInputError(
                    f'{self.source.name} stopped delivering frames (none for '
                    f'{self.stall_timeout:g} s); check that it is plugged in and that no other '
                    'program uses it')
                self._stop.set()
        if self.error is not None:
            self.stop()
            raise self.error
        return not self.running

    def stop(self):
        """Stop the threads and close the source (the sinks are the caller's)."""
        if not self._threads:
            return
        self._stop.set()
        for thread in self._threads:
            if thread is not threading.current_thread():
                # a hung camera read cannot be interrupted: its (daemon) thread is left behind
                thread.join(timeout=0.5 if thread.name == 'live-capture_loop' else 5)
        capture = [t for t in self._threads if t.name == 'live-capture_loop']
        if self.source is not None and not (capture and capture[0].is_alive()):
            self.source.close()  # never under a read in progress

    def run(self, source, sinks=(), duration=None):
        """:meth:`start`, :meth:`wait` (at most ``duration`` seconds) and :meth:`stop`."""
        self.start(source, sinks)
        try:
            self.wait(duration)
        finally:
            self.stop()
        return self.stats


class Recorder:
    """A sink writing the delivered frames to a video at a constant ``fps``: each frame is
    repeated until the next one arrives, so the recording plays in real time whatever was
    dropped. ``close()`` finishes the file (nothing is left at ``path`` when nothing came)."""

    def __init__(self, path, fps=25.0):
        self.path, self.fps = path, fps
        self.writer = VideoWriter(path, fps, audio_from=None)
        self.start = None
        self.written = 0

    def __call__(self, frame):
        now = time.monotonic()
        if self.start is None:
            self.start = now
        slots = int((now - self.start) * self.fps) + 1
        repeat = max(slots - self.written, 0 if self.written else 1)
        if repeat:
            self.writer.write(np.repeat(frame.image[None], repeat, axis=0))
            self.written += repeat

    def close(self):
        if self.written:
            self.writer.close()
        else:
            self.writer.abort()


class VirtualCamera:
    """A sink sending the frames to a virtual camera (``pyvirtualcam``: v4l2loopback on Linux,
    OBS's camera on Windows and macOS) that video-call apps can pick.

    Raises:
        LiveInputError: pyvirtualcam is not installed, or no virtual camera device exists.
    """

    def __init__(self, width, height, fps=30.0):
        try:
            import pyvirtualcam
        except ImportError as exc:
            raise LiveInputError('--virtual_camera needs pyvirtualcam: pip install '
                                 '"ppfom[live]"') from exc
        try:
            self.camera = pyvirtualcam.Camera(width=width, height=height, fps=fps)
        except RuntimeError as exc:
            raise LiveInputError(f'no virtual camera device ({exc}); on Linux load v4l2loopback '
                                 '(modprobe v4l2loopback devices=1 exclusive_caps=1)') from exc
        get_logger().info('virtual camera: %s', self.camera.device)

    def __call__(self, frame):
        self.camera.send(np.ascontiguousarray(frame.image))

    def close(self):
        self.camera.close()


def draw_readout(image, lines):
    """``image`` (RGB uint8) with the text ``lines`` drawn at its top left (a copy)."""
    out = image.copy()
    scale = max(out.shape[1] / 900, 0.4)
    for i, line in enumerate(lines):
        y = int((i + 1) * 28 * scale)
        for colour, width in (((0, 0, 0), 3), ((255, 255, 255), 1)):
            cv2.putText(out, line, (8, y), cv2.FONT_HERSHEY_SIMPLEX, 0.7 * scale, colour, width,
                        cv2.LINE_AA)
    return out


__all__ = ['LiveAnimator', 'LiveFrame', 'LiveInputError', 'LiveStats', 'LatestSlot',
           'CameraSource', 'FileSource', 'Recorder', 'VirtualCamera', 'NO_FACE', 'draw_readout']
