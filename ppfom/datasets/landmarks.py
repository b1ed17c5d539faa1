"""Face landmarks of training clips, for the keypoint prior of ppfom's bundled model.

A FOMM trained on a few identities places its keypoints where they explain *those* faces; on an
unseen face they can jump between frames (measured on the held-out ``lp_d12``: keypoint positions
varied by 0.15-0.30 in normalised units over a clip whose head barely moves, and the warped source
tore). The keypoint prior (``loss_weights.keypoint_prior``, see
:func:`ppfom.models.losses.keypoint_prior_loss`) anchors the keypoints to points every face has.

The anchors come from BlazeFace's six landmarks (MediaPipe, bundled; see
:mod:`ppfom.faceutils.face_detection`) plus four points derived from them::

    0 right eye   1 left eye   2 nose tip   3 mouth centre   4 right ear   5 left ear
    6 chin  = mouth + 0.7 (mouth - eye centre)
    7 forehead = eye centre - 0.7 (mouth - eye centre)
    8 right cheek = (right ear + mouth) / 2      9 left cheek = (left ear + mouth) / 2

("right" = the person's right, on the image's left.) Coordinates are FOMM's: ``x`` then ``y`` in
``[-1, 1]`` over the frame as the dataset crops it (centre crop to ``frame_shape``'s aspect).
Frames without a face are ``NaN`` and are left out of the loss.

Files: ``<landmarks_dir>/<video entry>.npy``, float32 ``(T, M, 2)``, written by
``tools/make_landmarks.py``: ``M = 10`` BlazeFace anchors (above) or ``M = 468`` FaceMesh
landmarks (``--landmarks facemesh``; the keypoints of
:class:`~ppfom.modules.landmark_keypoints.LandmarkKPDetector` are measured from them).
"""
import os

import numpy as np

from ..modules.landmark_keypoints import NUM_LANDMARKS, load_canonical_face

ANCHORS = ('right_eye', 'left_eye', 'nose', 'mouth', 'right_ear', 'left_ear', 'chin', 'forehead',
           'right_cheek', 'left_cheek')
NUM_ANCHORS = len(ANCHORS)
#: anchor order after a horizontal flip: the image-left eye becomes the right eye, and so on
MIRROR = (1, 0, 2, 3, 5, 4, 6, 7, 9, 8)


def anchors_from_blazeface(landmarks):
    """BlazeFace's six landmarks ``(..., 6, 2)`` -> the ten anchors ``(..., 10, 2)`` (see the
    module docstring; any units, the derived points are affine combinations)."""
    landmarks = np.asarray(landmarks, np.float32)
    right_eye, left_eye, mouth = landmarks[..., 0, :], landmarks[..., 1, :], landmarks[..., 3, :]
    eyes = (right_eye + left_eye) / 2
    down = mouth - eyes
    derived = np.stack([mouth + 0.7 * down, eyes - 0.7 * down,
                        (landmarks[..., 4, :] + mouth) / 2, (landmarks[..., 5, :] + mouth) / 2],
                       axis=-2)
    return np.concatenate([landmarks, derived], axis=-2)


def centre_crop_box(height, width, frame_shape):
    """``(top, left, crop_h, crop_w)`` of the centre crop the dataset takes from a
    ``height x width`` frame to reach the aspect of ``frame_shape`` ``[H, W, 3]`` (used by the
    dataset's own resize, so the anchors and the frames share one crop)."""
    out_h, out_w = int(frame_shape[0]), int(frame_shape[1])
    if height * out_w > width * out_h:
        crop = width * out_h // out_w
        return (height - crop) // 2, 0, crop, width
    if height * out_w < width * out_h:
        crop = height * out_w // out_h
        return 0, (width - crop) // 2, height, crop
    return 0, 0, height, width


def frame_anchors(detector, frame, frame_shape):
    """Anchors ``(10, 2)`` of the most confident face in ``frame`` (RGB uint8 ``(h, w, 3)``), in
    FOMM's ``[-1, 1]`` coordinates of the dataset's crop of it resized to ``frame_shape`` (pixel
    centres, ``make_coordinate_grid``: -1 and 1 are the centres of the first and last pixel);
    all ``NaN`` when no face is found."""
    top, left, crop_h, crop_w = centre_crop_box(frame.shape[0], frame.shape[1], frame_shape)
    crop = np.ascontiguousarray(frame[top:top + crop_h, left:left + crop_w])
    found = detector.detect_single(crop)
    if len(found) == 0:
        return np.full((NUM_ANCHORS, 2), np.nan, np.float32)
    points = anchors_from_blazeface(found.landmarks[0])        # continuous pixels of the crop
    out = np.array([frame_shape[1], frame_shape[0]], np.float64)
    index = points * out / np.array([crop_w, crop_h]) - 0.5    # pixel index at frame_shape
    return (2 * index / (out - 1) - 1).astype(np.float32)


def landmarks_path(landmarks_dir, video_path):
    return os.path.join(landmarks_dir, os.path.basename(os.path.normpath(video_path)) + '.npy')


def mirror_order(num_points):
    """Index of each point after a horizontal flip, for the 10 anchors or FaceMesh's 468
    landmarks; ``ValueError`` for another count."""
    if num_points == NUM_ANCHORS:
        return np.asarray(MIRROR)
    if num_points == NUM_LANDMARKS:
        return load_canonical_face()[1]
    raise ValueError(f'{num_points} landmarks per frame: expected {NUM_ANCHORS} (BlazeFace '
                     f'anchors) or {NUM_LANDMARKS} (FaceMesh)')


def load_landmarks(landmarks_dir, video_path):
    """The ``(T, M, 2)`` anchors or landmarks of ``video_path``; raises ``FileNotFoundError``
    naming the file and the command that writes it, ``ValueError`` for a file of another
    shape."""
    path = landmarks_path(landmarks_dir, video_path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'no landmarks for {video_path} ({path}); write them with '
                                f'python tools/make_landmarks.py --dataroot <dataroot> --out '
                                f'{landmarks_dir}')
    points = np.load(path)
    if points.ndim != 3 or points.shape[1:] not in ((NUM_ANCHORS, 2), (NUM_LANDMARKS, 2)):
        raise ValueError(f'{path} holds an array of shape {points.shape}, not (T, {NUM_ANCHORS}, '
                         f'2) or (T, {NUM_LANDMARKS}, 2); rewrite it with tools/make_landmarks.py')
    return points.astype(np.float32)


def flip_anchors(points):
    """Anchors or landmarks ``(..., M, 2)`` of the horizontally flipped frame: ``x -> -x`` and
    left/right swapped (:func:`mirror_order`)."""
    points = np.asarray(points)
    points = points[..., mirror_order(points.shape[-2]), :].copy()
    points[..., 0] = -points[..., 0]
    return points
