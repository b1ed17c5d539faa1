"""Paste masks made from face landmarks: the animated head goes back into the photo, and the
neck, the clothes and the background beyond a feathered band stay the photo's own pixels.

A disc (:func:`ppfom.faceutils.crop.paste_mask`, PaddleGAN's ``--ratio``) pastes the neck and
collar too, which the model moves with the head: on portraits with a white collar the collar
tears into streaks. :func:`head_mask` pastes the head only: FaceMesh's face oval, widened
sideways for the ears and upwards for the forehead and hair, feathered.
"""
import cv2
import numpy as np

#: FaceMesh's face oval (silhouette) in order around the face, starting at the forehead's top
#: (MediaPipe's canonical mesh topology; landmark 152 is the chin, 234 / 454 the cheek sides).
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400,
             377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67,
             109)
CHIN, FOREHEAD = 152, 10


def head_outline(landmarks, widen=0.12, hair=0.45, chin=0.04):
    """The head's outline in the landmarks' pixels: ``(36, 2)`` float64.

    Args:
        landmarks: ``(468, 2+)`` FaceMesh landmarks (pixels; z ignored).
        widen: push every oval point away from the face centre by this fraction of its distance
            (ears, the side of the hair).
        hair: move the upper half of the oval up by up to this fraction of the face height
            (chin to forehead), most at the top: forehead and hair.
        chin: move the lower half down by up to this fraction of the face height (the jaw's
            shadow; the neck stays out).
    Raises ``ValueError`` for non-finite landmarks.
    """
    points = np.asarray(landmarks, np.float64)[:, :2]
    if not np.isfinite(points[list(FACE_OVAL)]).all():
        raise ValueError('head_outline needs finite landmarks (a face was not found)')
    oval = points[list(FACE_OVAL)]
    centre = oval.mean(axis=0)
    up = points[FOREHEAD] - points[CHIN]                      # chin -> forehead, face height
    height = np.linalg.norm(up)
    up = up / max(height, 1e-9)
    outline = centre + (1 + widen) * (oval - centre)
    along = (oval - centre) @ up / max(height / 2, 1e-9)      # -1 at the chin, +1 at the top
    lift = np.where(along > 0, hair * along ** 2, -chin * along ** 2) * height
    return outline + lift[:, None] * up


def head_mask(landmarks, size, feather=0.06, **outline_kwargs):
    """Feathered head mask ``(size, size)`` float32 in ``[0, 1]`` for pasting a square crop back.

    Args:
        landmarks: ``(468, 2+)`` FaceMesh landmarks in pixels of the ``size`` x ``size`` crop, or
            a list of such arrays (their heads' union: e.g. the head at rest and animated).
        size: the crop's side in pixels.
        feather: width of the smooth fall-off outside the outline, as a fraction of ``size``.
        outline_kwargs: see :func:`head_outline`.
    The mask is 1 inside the outline, falls smoothly (cosine of the distance) to exactly 0 at
    ``feather * size`` beyond it, and is 0 further out.
    """
    sets = landmarks if isinstance(landmarks, (list, tuple)) else [landmarks]
    inside = np.zeros((size, size), np.uint8)
    for points in sets:
        outline = head_outline(points, **outline_kwargs)
        cv2.fillPoly(inside, [np.round(outline * 16).astype(np.int32)], 1, cv2.LINE_8, shift=4)
    band = max(feather * size, 1e-6)
    distance = cv2.distanceTransform(1 - inside, cv2.DIST_L2, 5)  # 0 inside, px beyond the edge
    t = np.clip(distance / band, 0, 1)
    return (0.5 + 0.5 * np.cos(np.pi * t)).astype(np.float32)
