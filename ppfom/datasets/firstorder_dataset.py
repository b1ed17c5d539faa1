"""Video dataset for FOMM training (original ``frames_dataset.py``; PaddleGAN
``ppgan/datasets/firstorder_dataset.py`` config layout).

Layout::

    dataroot/train/<video>   dataroot/test/<video>

where each ``<video>`` is a folder of frames (png/jpg, sorted by name) or a video file (mp4, gif,
mov, avi). With ``id_sampling`` the name ``<id>#<rest>`` groups clips of one identity (VoxCeleb).
"""
import glob
import os
import warnings
from collections import OrderedDict

import cv2
import imageio
import numpy as np

from ..utils.registry import DATASETS
from ..utils.video import VideoReader
from .augmentation import PairedAugmentation
from .landmarks import centre_crop_box, load_landmarks

VIDEO_EXTS = ('.mp4', '.gif', '.mov', '.avi')
IMAGE_EXTS = ('.png', '.jpg', '.jpeg', '.bmp')


class DatasetError(ValueError):
    """A dataroot or video that cannot be used; the message names it and says what to do."""


def _reason(exc):
    """One short line from a decoder exception (ffmpeg errors carry its whole log)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {(lines[-1] if lines else '')[:160]}"


def _to_rgb(frame):
    frame = np.asarray(frame)
    if frame.ndim == 2:
        frame = np.stack([frame] * 3, axis=-1)
    return frame[..., :3]


def _resize(frame, frame_shape):
    """Centre-crop ``frame`` ``(h, w, 3)`` uint8 to the aspect of ``frame_shape`` and resize to it;
    returns float32 ``(H, W, 3)`` in ``[0, 1]``."""
    out_h, out_w = int(frame_shape[0]), int(frame_shape[1])
    top, left, crop_h, crop_w = centre_crop_box(frame.shape[0], frame.shape[1], frame_shape)
    frame = frame[top:top + crop_h, left:left + crop_w]
    if frame.shape[:2] != (out_h, out_w):
        interp = cv2.INTER_AREA if frame.shape[0] > out_h else cv2.INTER_LINEAR
        frame = cv2.resize(np.ascontiguousarray(frame), (out_w, out_h), interpolation=interp)
    return frame.astype(np.float32) / 255.0


def _frame_files(folder):
    return sorted(f for f in glob.glob(os.path.join(folder, '*'))
                  if f.lower().endswith(IMAGE_EXTS))


def iter_frames(path):
    """Yield the frames of ``path`` (folder of frames or video file) as RGB uint8 ``(h, w, 3)``
    arrays, at their own size, in order (the decoding :func:`read_video` and
    ``tools/make_landmarks.py`` share, so frame ``i`` is the same frame in both). Video files are
    decoded by :class:`ppfom.utils.video.VideoReader`, as at inference: every frame once, also
    for variable-frame-rate files."""
    if os.path.isdir(path):
        for f in _frame_files(path):
            yield _to_rgb(imageio.v2.imread(f))
        return
    yield from VideoReader(path).frames()


def read_video(path, frame_shape, indices=None):
    """Decode ``path`` (folder of frames or video file) into float32 ``(T, H, W, 3)`` in
    ``[0, 1]`` at ``frame_shape`` (see :func:`_resize`).

    Args:
        indices: only these frames (folders read only them; video files are decoded fully).
    Raises :class:`DatasetError` for an unreadable or empty video.
    """
    try:
        if os.path.isdir(path) and indices is not None:
            files = _frame_files(path)
            frames = [_resize(_to_rgb(imageio.v2.imread(files[i])), frame_shape) for i in indices]
        else:  # streamed: only the resized frames are kept in memory
            frames = [_resize(f, frame_shape) for f in iter_frames(path)]
            if indices is not None:
                frames = [frames[i] for i in indices]
    except Exception as exc:  # imageio/ffmpeg raise many kinds for a broken file
        raise DatasetError(f'cannot read video {path} ({_reason(exc)})') from exc
    if not frames:
        raise DatasetError(f'video {path} has no frames')
    return np.stack(frames)


def probe_video(path):
    """Number of frames of a folder, or ``None`` for a readable video file (length unknown until
    decoded). Raises :class:`DatasetError` when it is empty or unreadable."""
    if os.path.isdir(path):
        n = len(_frame_files(path))
        if n == 0:
            raise DatasetError(f'{path} has no frames')
        return n
    try:
        frames = VideoReader(path).frames()
        try:
            next(frames)
        finally:
            frames.close()
    except Exception as exc:
        raise DatasetError(f'{path} is empty or unreadable ({_reason(exc)})') from exc
    return None


def _parse_transforms(transforms):
    """PaddleGAN's ``transforms`` list -> ``(flip_prob, jitter kwargs, affine kwargs)``."""
    flip_prob, jitter, affine = 0.0, None, None
    for t in transforms or []:
        t = dict(t)
        name = t.pop('name', None)
        t.pop('keys', None)
        if name == 'PairedRandomHorizontalFlip':
            flip_prob = float(t.get('prob', 0.5))
        elif name == 'PairedColorJitter':
            jitter = {k: float(t.get(k, 0)) for k in ('brightness', 'contrast', 'saturation', 'hue')}
        elif name == 'PairedRandomAffine':
            affine = {k: t[k] for k in ('scale', 'rotation', 'translation', 'prob') if k in t}
        else:
            raise DatasetError(f"unknown transform {name!r} in dataset transforms; use "
                               "PairedRandomHorizontalFlip, PairedColorJitter and/or "
                               "PairedRandomAffine")
    return flip_prob, jitter, affine


@DATASETS.register()
class FirstOrderDataset:
    """Pairs of frames of one clip (train) or whole clips (test).

    Args:
        dataroot: folder with ``train/`` (and ``test/`` for evaluation).
        phase: ``'train'`` or ``'test'``.
        frame_shape: ``[H, W, 3]``: frames are centre-cropped to this aspect and resized.
        id_sampling: one item per identity (``<id>#...`` names), a random clip of it each time.
        num_repeats: the train split is repeated this many times per epoch.
        time_flip: reverse the clip with probability 0.5 (train).
        transforms: PaddleGAN list: ``PairedRandomHorizontalFlip`` (``prob``),
            ``PairedColorJitter`` (``brightness``, ``contrast``, ``saturation``, ``hue``) and
            ppfom's ``PairedRandomAffine`` (``scale: [low, high]``, ``rotation`` degrees,
            ``translation`` fraction, ``prob``; see :class:`~.augmentation.RandomAffine`).
        seed: base seed; item ``i`` draws its randomness from ``default_rng([seed, i])``, so a
            sample does not depend on the worker or device that loads it.
        cache_videos: keep up to this many decoded (resized) videos in memory per worker.
        max_frames: test phase: only the first ``max_frames`` frames of each clip (``None``: all).
        videos: only these entries (file or folder names) of the split, e.g. held-out clips.
        landmarks_dir: folder of ``<entry>.npy`` face anchors or FaceMesh landmarks (see
            :mod:`ppfom.datasets.landmarks`; written by ``tools/make_landmarks.py``); train items
            then also carry ``source_landmarks`` / ``driving_landmarks`` ``(M, 2)`` (``NaN``: no
            face), flipped and moved with the frames; test items carry ``landmarks``
            ``(T, M, 2)``.
        require_landmarks: train phase: draw only frames whose landmarks were found (for a
            keypoint detector that reads landmarks, :class:`~ppfom.modules.landmark_keypoints.
            LandmarkKPDetector`); a clip with fewer than 2 such frames is an error.
        pairs_list, create_frames_folder: accepted for PaddleGAN config compatibility; must be
            ``None`` / ``False``.

    Train items: ``{'source': (3, H, W), 'driving': (3, H, W)`` float32 in ``[0, 1]``,
    ``'seed': int64}``. Test items: ``{'video': (T, 3, H, W), 'name': str}``.
    Empty or unreadable videos are skipped with a warning naming them.
    Raises :class:`DatasetError` when ``dataroot/<phase>`` is missing or no video is left, and when
    a clip's landmarks file is missing or has another number of frames than the clip.
    """

    def __init__(self, dataroot, phase='train', frame_shape=(256, 256, 3), id_sampling=False,
                 num_repeats=1, time_flip=True, transforms=None, seed=0, cache_videos=0,
                 max_frames=None, videos=None, pairs_list=None, create_frames_folder=False,
                 landmarks_dir=None, require_landmarks=False):
        if phase not in ('train', 'test'):
            raise DatasetError(f"dataset phase must be 'train' or 'test', got {phase!r}")
        if pairs_list not in (None, 'None') or create_frames_folder:
            raise DatasetError('pairs_list and create_frames_folder are not supported; remove them')
        split = os.path.join(dataroot, phase)
        if not os.path.isdir(split):
            raise DatasetError(f"dataroot {dataroot} has no '{phase}/' folder; put the "
                               f"{phase} videos (mp4/gif/mov/avi files or frame folders) in "
                               f'{split}')
        entries = sorted(e for e in os.listdir(split) if not e.startswith('.')
                         and (os.path.isdir(os.path.join(split, e))
                              or e.lower().endswith(VIDEO_EXTS)))
        if videos is not None:
            missing = sorted(set(videos) - set(entries))
            if missing:
                raise DatasetError(f"videos {', '.join(missing)} not found in {split}")
            entries = [e for e in entries if e in set(videos)]
        self.videos = []
        for entry in entries:
            path = os.path.join(split, entry)
            try:
                probe_video(path)
            except DatasetError as exc:
                warnings.warn(f'skipping a video: {exc}')
                continue
            self.videos.append(path)
        if not self.videos:
            raise DatasetError(f'no readable video in {split} (mp4/gif/mov/avi files or folders '
                               'of png/jpg frames)')
        self.phase = phase
        self.frame_shape = tuple(int(v) for v in frame_shape)
        self.num_repeats = int(num_repeats) if phase == 'train' else 1
        self.seed = int(seed)
        self.max_frames = max_frames
        if id_sampling and phase == 'train':
            groups = OrderedDict()
            for path in self.videos:
                groups.setdefault(os.path.basename(path).split('#')[0], []).append(path)
            self.items = list(groups.values())
        else:
            self.items = [[path] for path in self.videos]
        flip_prob, jitter, affine = _parse_transforms(transforms)
        self.augment = (PairedAugmentation(flip_prob, time_flip, jitter, affine)
                        if phase == 'train' else None)
        self.cache_videos = int(cache_videos)
        self._cache = OrderedDict()
        self.landmarks = None
        self.valid_frames = None
        if require_landmarks and not landmarks_dir:
            raise DatasetError('require_landmarks needs landmarks_dir (tools/make_landmarks.py)')
        if landmarks_dir:
            self.landmarks = {}
            for path in self.videos:
                try:
                    self.landmarks[path] = load_landmarks(landmarks_dir, path)
                except (OSError, ValueError) as exc:
                    raise DatasetError(str(exc)) from exc
        if require_landmarks and phase == 'train':
            self.valid_frames = {}
            for path, points in self.landmarks.items():
                valid = np.flatnonzero(np.isfinite(points).all(axis=(1, 2)))
                if len(valid) < 2:
                    raise DatasetError(f'{path}: a face was found in {len(valid)} frame(s); '
                                       'require_landmarks needs 2 or more (drop the clip)')
                self.valid_frames[path] = valid

    def __len__(self):
        return len(self.items) * self.num_repeats

    def _pick(self, path, n, rng):
        """Two frame indices of ``path`` (``n`` frames), in time order."""
        if self.valid_frames is not None:
            return np.sort(rng.choice(self.valid_frames[path], 2, replace=True))
        return np.sort(rng.choice(n, 2, replace=True))

    def _frames(self, path, rng):
        """Two frames of ``path`` (random, in time order): float32 ``(2, H, W, 3)`` and their
        indices."""
        if self.cache_videos > 0:
            if path not in self._cache:
                self._cache[path] = read_video(path, self.frame_shape)
                while len(self._cache) > self.cache_videos:
                    self._cache.popitem(last=False)
            video = self._cache[path]
        elif os.path.isdir(path):
            n = len(_frame_files(path))
            indices = self._pick(path, n, rng)
            return read_video(path, self.frame_shape, list(indices)), indices, n
        else:
            video = read_video(path, self.frame_shape)
        indices = self._pick(path, len(video), rng)
        return video[indices], indices, len(video)

    def __getitem__(self, idx):
        """``idx`` may exceed ``len(self)`` (the epoch-aware sampler adds ``epoch * len``):
        the item is ``idx % len``, its randomness keyed on ``idx`` itself."""
        item = self.items[idx % len(self.items)]
        if self.phase == 'test':
            video = read_video(item[0], self.frame_shape)
            out = {'video': video.transpose(0, 3, 1, 2).copy(), 'name': os.path.basename(item[0])}
            if self.landmarks is not None:
                points = self.landmarks[item[0]]
                if len(points) != len(video):
                    raise DatasetError(f'the landmarks of {item[0]} have {len(points)} frames, '
                                       f'the clip {len(video)}; rewrite them with '
                                       'tools/make_landmarks.py')
                out['landmarks'] = points
            if self.max_frames:
                out = {k: v[:int(self.max_frames)] if k != 'name' else v for k, v in out.items()}
            return out
        rng = np.random.default_rng([self.seed, int(idx)])
        path = item[rng.integers(len(item))]
        frames, indices, length = self._frames(path, rng)
        if self.landmarks is None:
            frames, points = self.augment(frames, rng), None
        else:
            points = self.landmarks[path]
            if len(points) != length:
                raise DatasetError(f'the landmarks of {path} have {len(points)} frames, the clip '
                                   f'{length}; rewrite them with tools/make_landmarks.py')
            frames, points = self.augment(frames, rng, points[indices])
        out = {'source': frames[0].transpose(2, 0, 1).copy(),
               'driving': frames[1].transpose(2, 0, 1).copy(),
               'seed': np.int64(rng.integers(2 ** 62))}
        if points is not None:
            points = np.asarray(points, np.float32)
            out['source_landmarks'], out['driving_landmarks'] = points[0], points[1]
        return out
