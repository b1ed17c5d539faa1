"""The piecewise-affine reference (ppfom/metrics/references.py): identity and known affine
motion on a real face's FaceMesh landmarks, and the same map as scikit-image's
PiecewiseAffineTransform."""
import cv2
import numpy as np
import pytest
from skimage.transform import AffineTransform, PiecewiseAffineTransform, warp

from ppfom.metrics.references import (border_anchors, piecewise_affine_map,
                                      piecewise_affine_warp, piecewise_reconstruction)
from ppfom.utils.image_io import read_image

SIZE = 128


@pytest.fixture(scope='module')
def face(data_dir):
    """A real photo at 128x128 and its FaceMesh landmarks in pixel indices ``(468, 2)``."""
    from ppfom.apps.landmarks import FaceLandmarks
    image = cv2.resize(read_image(f'{data_dir}/images/paddlegan_fom_source.png'), (SIZE, SIZE),
                       interpolation=cv2.INTER_AREA)
    points = FaceLandmarks().of_sources(image[None])[0] * SIZE - 0.5
    return image, points


def test_target_equal_to_source_returns_the_image(face):
    image, points = face
    assert np.array_equal(piecewise_affine_warp(image, points, points), image)
    as_float = image.astype(np.float32) / 255
    np.testing.assert_allclose(piecewise_affine_warp(as_float, points, points), as_float,
                               atol=1e-6)


def test_known_affine_motion_gives_that_affine_inside_the_mesh(face):
    image, points = face
    centre = points.mean(axis=0)
    motion = AffineTransform(scale=1.08, rotation=np.radians(6), translation=(3, -2))
    # the affine about the face centre: x -> A (x - c) + c + t
    moved = motion(points - centre) + centre
    warped = piecewise_affine_warp(image.astype(np.float64), points, moved)
    forward = AffineTransform(translation=-centre) + motion + AffineTransform(translation=centre)
    expected = warp(image.astype(np.float64), forward.inverse, order=1, mode='edge',
                    preserve_range=True)
    hull = np.zeros((SIZE, SIZE), np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.round(moved).astype(np.int32)), 1)
    inside = cv2.erode(hull, np.ones((7, 7), np.uint8)).astype(bool)
    assert inside.sum() > 0.15 * SIZE * SIZE          # the face covers a good part of the frame
    np.testing.assert_allclose(warped[inside], expected[inside], atol=1e-6)
    # and the background at the border stays put
    np.testing.assert_allclose(warped[0], image[0], atol=1e-9)
    assert np.abs(warped[~hull.astype(bool)] - expected[~hull.astype(bool)]).max() > 10


def test_map_is_scikit_images_piecewise_affine_transform(face):
    _, points = face
    rng = np.random.default_rng(0)
    anchors = border_anchors(SIZE, SIZE)
    src = np.concatenate([points + rng.normal(0, 1.5, points.shape), anchors])
    dst = np.concatenate([points, anchors])
    grid = np.column_stack([c.ravel() for c in np.mgrid[:SIZE, :SIZE][::-1]]).astype(np.float64)
    if hasattr(PiecewiseAffineTransform, 'from_estimate'):      # scikit-image >= 0.26
        reference = PiecewiseAffineTransform.from_estimate(src, dst)
    else:
        reference = PiecewiseAffineTransform()
        reference.estimate(src, dst)
    assert reference
    ours, theirs = piecewise_affine_map(src, dst, grid), reference(grid)
    inside = np.isfinite(ours[:, 0])
    assert inside.all()                               # the border anchors span the whole frame
    np.testing.assert_allclose(ours[inside], theirs[inside], atol=1e-9)


def test_bad_points_are_one_line_errors(face):
    image, points = face
    with pytest.raises(ValueError, match='NaN'):
        piecewise_affine_warp(image, points, np.full_like(points, np.nan))
    with pytest.raises(ValueError, match=r'\(N, 2\)'):
        piecewise_affine_warp(image, points, points[:10])


def test_reconstruction_without_a_face_in_frame_0_is_static(face):
    image, points = face
    video = np.stack([image, image[:, ::-1]]).transpose(0, 3, 1, 2).astype(np.float32) / 255
    landmarks = np.stack([points, points]) / (SIZE - 1) * 2 - 1
    moved, found = piecewise_reconstruction(video, landmarks)
    assert found.all() and np.allclose(moved[0], video[0], atol=1e-6)
    landmarks[0] = np.nan
    static, found = piecewise_reconstruction(video, landmarks)
    assert not found[0] and np.array_equal(static, video[[0, 0]])
