"""Write the canonical face and the mirror map of FaceMesh's landmarks
(``ppfom/modules/facemesh_canonical.npz``, read by ``LandmarkKPDetector``).

    python tools/make_canonical_face.py --dataroot RUN/data --out ppfom/modules/facemesh_canonical.npz

From about ``--per_clip`` frames of every clip of ``<dataroot>/train`` it takes FaceMesh landmarks
of the frame and of its mirror image (the bundled BlazeFace + FaceMesh, detection then one
following step):

- ``mirror``: the landmark each landmark becomes in the mirror image (the assignment minimising
  the summed squared distances between the mirrored landmarks and the mirror image's, Hungarian
  algorithm over all frames); an involution (checked);
- ``canonical``: the mean face in FOMM coordinates of the frame (pixel centres at
  ``--frame_size``): the frames' landmarks aligned by similarity transforms (generalised
  Procrustes), averaged, turned so that the outer eye corners are level, made mirror-symmetric
  with ``mirror``, and scaled and placed at the frames' median size and position.

A trained model keeps the canonical face it was trained with in its weights (the keypoint
detector's buffers), so rewriting the file changes only models trained afterwards.
"""
import argparse
import os
import sys

import numpy as np
from scipy.optimize import linear_sum_assignment

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ppfom.datasets.firstorder_dataset import VIDEO_EXTS, iter_frames  # noqa: E402
from ppfom.faceutils.face_detection import BlazeFaceDetector  # noqa: E402
from ppfom.faceutils.face_landmarks import LandmarkTracker, build_landmarker  # noqa: E402
from ppfom.utils.atomic import publish  # noqa: E402

EYE_CORNERS = (33, 263)


def similarity_align(points, reference):
    """``points`` ``(L, 2)`` moved onto ``reference`` by the least-squares similarity transform
    (rotation, uniform scale, shift; no reflection)."""
    p, r = points - points.mean(0), reference - reference.mean(0)
    u, s, vt = np.linalg.svd(p.T @ r)
    d = np.sign(np.linalg.det(u @ vt))
    rotation = u @ np.diag([1, d]) @ vt
    scale = (s * [1, d]).sum() / (p ** 2).sum()
    return scale * p @ rotation + reference.mean(0)


def mean_face(faces, iterations=10):
    """Generalised Procrustes mean of ``(N, L, 2)`` faces."""
    reference = faces[0]
    for _ in range(iterations):
        reference = np.mean([similarity_align(f, reference) for f in faces], axis=0)
    return reference


def canonical_face(faces, mirror):
    """The symmetric canonical face from ``(N, L, 2)`` faces in FOMM coordinates."""
    rms = lambda f: np.sqrt(((f - f.mean(0)) ** 2).sum(1).mean())  # noqa: E731
    face = mean_face(faces)
    face = face - face.mean(0)
    eye = face[EYE_CORNERS[1]] - face[EYE_CORNERS[0]]
    angle = -np.arctan2(eye[1], eye[0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    face = face @ rotation.T
    mirrored = face * [-1, 1]
    face = (face + mirrored[mirror]) / 2
    scale = np.median([rms(f) for f in faces])
    centre = np.median(faces.mean(axis=1), axis=0)
    return face / rms(face) * scale + centre


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--dataroot', required=True, help='folder with train/')
    parser.add_argument('--out', required=True, help='the .npz to write')
    parser.add_argument('--per_clip', type=int, default=12)
    parser.add_argument('--frame_size', type=int, default=64)
    args = parser.parse_args(argv)
    folder = os.path.join(args.dataroot, 'train')
    if not os.path.isdir(folder):
        sys.exit(f'error: {folder} does not exist; --dataroot needs a train/ folder')
    detector, landmarker = BlazeFaceDetector(tiles=False), build_landmarker()

    def landmarks(image):
        tracker = LandmarkTracker(landmarker, detector)
        points = tracker(image)
        return tracker(image)[:, :2] if np.isfinite(points).all() else None

    faces, cost = [], 0
    for entry in sorted(os.listdir(folder)):
        if not entry.lower().endswith(VIDEO_EXTS):
            continue
        frames = list(iter_frames(os.path.join(folder, entry)))
        for frame in frames[::max(1, len(frames) // args.per_clip)]:
            h, w = frame.shape[:2]
            a, b = landmarks(frame), landmarks(np.ascontiguousarray(frame[:, ::-1]))
            if a is None or b is None:
                continue
            size = args.frame_size
            faces.append(2 * ((a / [w, h]) * size - 0.5) / (size - 1) - 1)
            a_mirrored = a * [-1, 1] + [w, 0]
            cost = cost + ((a_mirrored[:, None] - b[None]) ** 2).sum(-1) / (w * w)
    if not faces:
        sys.exit(f'error: no face found in the clips of {folder}')
    _, mirror = linear_sum_assignment(cost)
    if not np.array_equal(mirror[mirror], np.arange(len(mirror))):
        sys.exit('error: the mirror assignment is not an involution; use more frames')
    canonical = canonical_face(np.array(faces), mirror)
    tmp = args.out + '.tmp.npz'
    np.savez(tmp, canonical=canonical.astype(np.float32), mirror=mirror.astype(np.int64))
    publish(tmp, args.out)
    print(f'{args.out}: canonical face and mirror map from {len(faces)} frames')


if __name__ == '__main__':
    main()
