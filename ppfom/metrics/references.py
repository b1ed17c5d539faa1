"""Reference predictions made without a network, to put a model's numbers in scale.

``piecewise``: the source image warped piecewise-affinely along FaceMesh's landmark mesh
(:mod:`ppfom.faceutils.face_landmarks`, 468 points, Delaunay triangles, one affine map per
triangle: the map of ``skimage.transform.PiecewiseAffineTransform``, see
:func:`piecewise_affine_map`; sampled with ``skimage.transform.warp``) so that the source's landmarks move to
where the driving frame's are. Fixed anchor points on the image border keep the background in
place. It moves every part of the face the landmarks see (head, brows, lids, lips), but it cannot
draw what the source does not show: a closed mouth stays closed, only stretched (issue 11: the
model must beat it on reconstruction L1 and on the contact sheets).

- reconstruction (:func:`piecewise_reconstruction`, ``tools/main.py --evaluate-only``): frame 0
  warped to each frame's landmarks (absolute motion, as the protocol re-drives frame 0);
- animation (:func:`piecewise_animation`, ``tools/evaluate_animation.py --references``): the
  photo's face crop warped to the driver's landmarks moved onto the photo's
  (:func:`ppfom.apps.landmarks.animated_landmarks`, relative motion and scale as the flags say).
"""
import numpy as np

#: anchor points per side of the image border (corners included), fixed by the warp
BORDER_ANCHORS_PER_SIDE = 8


def border_anchors(height, width, per_side=BORDER_ANCHORS_PER_SIDE):
    """``(4 * per_side - 4, 2)`` float64 points ``x, y`` evenly spaced along the border of a
    ``height x width`` image (pixel indices: the corners are the centres of the corner pixels)."""
    xs, ys = np.linspace(0, width - 1, per_side), np.linspace(0, height - 1, per_side)[1:-1]
    return np.concatenate([np.column_stack([xs, np.zeros_like(xs)]),
                           np.column_stack([xs, np.full_like(xs, height - 1)]),
                           np.column_stack([np.zeros_like(ys), ys]),
                           np.column_stack([np.full_like(ys, width - 1), ys])])


def piecewise_affine_warp(image, source_points, target_points):
    """Warp ``image`` so that ``source_points`` move to ``target_points``, one affine map per
    triangle of the Delaunay mesh of the target points plus :func:`border_anchors` (which stay
    put, so the background does not move).

    Args:
        image: ``(H, W, C)`` or ``(H, W)``, uint8 or float (e.g. ``[0, 1]`` RGB).
        source_points, target_points: ``(N, 2)`` ``x, y`` in pixel indices of ``image`` (pixel
            centres at integers; FOMM's ``[-1, 1]`` maps to ``[0, W - 1]``), e.g. FaceMesh's 468
            landmarks of the source and of the driving frame.
    Returns the warped image, same shape and dtype (bilinear; pixels outside the mesh, e.g.
    beyond border-crossing landmarks, keep the source's values). With ``target == source`` it
    returns ``image`` (within float rounding).
    Raises ``ValueError`` for points that are not finite or differ in shape, or a mesh that
    cannot be triangulated.
    """
    from skimage.transform import warp
    image = np.asarray(image)
    source = np.asarray(source_points, np.float64)
    target = np.asarray(target_points, np.float64)
    if source.shape != target.shape or source.ndim != 2 or source.shape[1] != 2:
        raise ValueError(f'source_points {source.shape} and target_points {target.shape} must '
                         'both be (N, 2) x, y pixel coordinates')
    if not (np.isfinite(source).all() and np.isfinite(target).all()):
        raise ValueError('landmarks with NaN/inf cannot be warped; fill frames without a face '
                         'first (ppfom.apps.landmarks.fill_missing)')
    height, width = image.shape[:2]
    anchors = border_anchors(height, width)
    rows, cols = np.mgrid[:height, :width]
    grid = np.column_stack([cols.ravel(), rows.ravel()]).astype(np.float64)
    # the inverse map: output pixel (target mesh) -> where to sample the input (source mesh)
    coords = piecewise_affine_map(np.concatenate([target, anchors]),
                                  np.concatenate([source, anchors]), grid)
    outside = np.isnan(coords[:, 0])
    coords[outside] = grid[outside]
    inverse_map = np.stack([coords[:, 1].reshape(height, width),
                            coords[:, 0].reshape(height, width)])
    pixels = image.astype(np.float64)
    channels = pixels.reshape(height, width, -1)
    out = np.stack([warp(channels[..., c], inverse_map, order=1, mode='edge',
                         preserve_range=True) for c in range(channels.shape[-1])], axis=-1)
    out = out.reshape(image.shape)
    if image.dtype == np.uint8:
        return np.clip(np.round(out), 0, 255).astype(np.uint8)
    return out.astype(image.dtype)


def piecewise_affine_map(src, dst, points):
    """Where ``points`` go under the piecewise affine map taking ``src`` to ``dst``: the map of
    ``skimage.transform.PiecewiseAffineTransform.from_estimate(src, dst)`` (Delaunay triangles
    of ``src``, each mapped affinely onto the same triangle of ``dst``), evaluated through the
    triangles' barycentric coordinates in one vectorised pass (scikit-image fits one
    ``AffineTransform`` per triangle, about 3 s per 500-point mesh on this project's CPU; the
    tests check both give the same map).

    ``src``, ``dst``: ``(N, 2)``; ``points``: ``(P, 2)`` -> ``(P, 2)`` float64, NaN for points
    in no triangle. Raises ``ValueError`` when ``src`` cannot be triangulated.
    """
    from scipy.spatial import Delaunay, QhullError
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    try:
        mesh = Delaunay(src)
    except QhullError as exc:
        raise ValueError(f'the landmark mesh cannot be triangulated ({exc.args[0].splitlines()[0]})'
                         '; pass distinct, not all collinear points') from None
    points = np.asarray(points, np.float64)
    simplex = mesh.find_simplex(points)
    inside = simplex >= 0
    transform = mesh.transform[simplex[inside]]                    # (P, 3, 2)
    bary = np.einsum('pij,pj->pi', transform[:, :2], points[inside] - transform[:, 2])
    bary = np.column_stack([bary, 1 - bary.sum(axis=1)])         # (P, 3)
    out = np.full(points.shape, np.nan)
    out[inside] = np.einsum('pk,pkd->pd', bary, dst[mesh.simplices[simplex[inside]]])
    return out


def _to_pixels(points, height, width):
    """FOMM's ``[-1, 1]`` (pixel centres) -> pixel indices ``x, y``."""
    size = np.array([width, height], np.float64)
    return (np.asarray(points, np.float64) + 1) / 2 * (size - 1)


def clip_landmarks(video, landmarks=None):
    """FaceMesh landmarks of a clip, for the ``piecewise`` reference.

    Args:
        video: ``(T, 3, H, W)`` float in ``[0, 1]`` (a test dataset item's ``video``).
        landmarks: the item's ``landmarks`` when the dataset has them (``landmarks_dir``); used
            as they are when they are FaceMesh's ``(T, 468, 2)``, else (none, or the 10 face
            anchors) the face is followed through the clip at its stored resolution with
            :class:`~ppfom.faceutils.face_landmarks.LandmarkTracker`.
    Returns ``(T, 468, 2)`` float32 in FOMM's ``[-1, 1]`` coordinates of the frames (pixel
    centres, as the dataset stores them), NaN where no face was found.
    """
    from ..faceutils.face_landmarks import NUM_LANDMARKS
    video = np.asarray(video)
    if landmarks is not None and np.shape(landmarks)[1:] == (NUM_LANDMARKS, 2):
        return np.asarray(landmarks, np.float32)
    from ..apps.landmarks import to_keypoint_coordinates
    from ..faceutils.face_landmarks import LandmarkTracker, build_landmarker
    tracker = LandmarkTracker(build_landmarker())
    height, width = video.shape[2:]
    frames = np.round(np.clip(video, 0, 1) * 255).astype(np.uint8).transpose(0, 2, 3, 1)
    size = np.array([width, height], np.float64)
    points = np.stack([tracker(np.ascontiguousarray(f))[:, :2] / size for f in frames])
    return to_keypoint_coordinates(points, size)


def piecewise_reconstruction(video, landmarks):
    """The ``piecewise`` reference of the reconstruction protocol: frame 0 warped along the
    landmark mesh to each frame's landmarks (absolute motion), no network.

    Args:
        video: ``(T, 3, H, W)`` float in ``[0, 1]``.
        landmarks: ``(T, 468, 2)`` in ``[-1, 1]`` (:func:`clip_landmarks`), NaN without a face.
    Returns ``(prediction, found)``: ``(T, 3, H, W)`` float32 and the ``(T,)`` frames with
    landmarks. Frames without a face hold the last pose (the previous frame's landmarks); a clip
    whose frame 0 has no face is predicted as frame 0 throughout (the static baseline).
    """
    from ..apps.landmarks import fill_missing
    video = np.asarray(video, np.float32)
    height, width = video.shape[2:]
    found = np.isfinite(np.asarray(landmarks, np.float64)).all(axis=(1, 2))
    if not found[0]:
        return np.broadcast_to(video[:1], video.shape).copy(), found
    points, _ = fill_missing(landmarks)
    pixels = _to_pixels(points, height, width)
    source = video[0].transpose(1, 2, 0)
    out = np.stack([piecewise_affine_warp(source, pixels[0], p).transpose(2, 0, 1)
                    for p in pixels])
    return out, found


def piecewise_animation(photo, driver_frames, relative=True, adapt_scale=True, analyzer=None,
                        size=256):
    """The ``piecewise`` reference of the animation score: the photo's face crop (the square of
    2x its dlib face box that the score cuts from a model's result,
    :func:`ppfom.metrics.animation.face_crop_of`) warped so that its FaceMesh landmarks follow
    the driver's, moved onto the photo as a model's keypoints are
    (:func:`ppfom.apps.landmarks.animated_landmarks`: relative motion from driving frame 0, scale
    adapted by the landmark hulls' areas, as the flags say).

    Args:
        photo: ``(H, W, 3)`` uint8 RGB.
        driver_frames: ``(T, h, w, 3)`` uint8 RGB (or a list); their landmarks are taken in
            pixels over the long side (the frame padded to a square, as the score analyses it).
        relative, adapt_scale: ``--relative`` / ``--adapt_scale``.
        analyzer: a :class:`~ppfom.metrics.face_analysis.FaceAnalyzer` (default: the shared one).
        size: side of the returned crops.
    Returns ``(T, size, size, 3)`` uint8: score it with ``crop_result=False`` (it is already the
    crop the score takes). Raises ``ValueError`` when dlib or FaceMesh finds no face in the
    photo, :class:`~ppfom.apps.landmarks.NoDrivingFaceError` when no driving frame has one.
    """
    from ..apps.animation import MotionOptions
    from ..apps.landmarks import FaceLandmarks, animated_landmarks, fill_missing
    from ..faceutils.crop import crop_square
    from .animation import _photo_crop
    from .face_analysis import check_eval_dependencies
    analyzer = analyzer or check_eval_dependencies()
    crop = crop_square(photo, _photo_crop(photo, analyzer), size)
    faces = FaceLandmarks()
    source = faces.of_sources(crop[None])                          # (1, 468, 2) in [0, 1]
    driving = []
    for frame in driver_frames:
        h, w = frame.shape[:2]
        points = faces.of_driving(frame[None])[0] * np.array([w, h]) / max(h, w)
        driving.append(points)
    driving, _ = fill_missing(np.stack(driving))
    options = MotionOptions(relative=relative, adapt_scale=adapt_scale)
    targets = animated_landmarks(source, driving, driving[0], options)[0] * size - 0.5
    start = source[0] * size - 0.5                                 # pixel indices of the crop
    return np.stack([piecewise_affine_warp(crop, start, t) for t in targets])
