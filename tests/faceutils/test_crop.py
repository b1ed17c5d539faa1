"""Square face crops and feathered paste-back: geometry and round trips on a real photo."""
import numpy as np

from ppfom.faceutils.crop import (ColourMatch, SquareCrop, crop_square, paste_back, paste_mask,
                                  square_crop_for_face)
from ppfom.utils.image_io import read_image


def test_crop_is_square_centred_and_never_stretched():
    crop = square_crop_for_face([100, 50, 200, 170], (480, 640), scale=2.0, shift_y=0.0)
    assert crop == SquareCrop(x=30, y=-10, size=240)  # centre (150, 110), side 2 * 120
    near_border = square_crop_for_face([0, 0, 40, 40], (480, 640), scale=2.0, shift_y=0.0)
    assert near_border == SquareCrop(-20, -20, 80)  # stays centred on the face


def test_crop_then_paste_unchanged_gives_back_the_photo(data_dir):
    photo = read_image(f'{data_dir}/images/opencv_messi5.jpg')
    for crop in (SquareCrop(200, 40, 96), SquareCrop(-30, -20, 120), SquareCrop(480, 280, 100)):
        window = crop_square(photo, crop, crop.size)  # no resize: the exact pixels
        x1, y1, x2, y2 = crop.box
        inside = photo[max(y1, 0):y2, max(x1, 0):x2]
        assert np.array_equal(window[max(-y1, 0):max(-y1, 0) + inside.shape[0],
                                     max(-x1, 0):max(-x1, 0) + inside.shape[1]], inside)
        pasted = paste_back(photo, crop, window, paste_mask(crop.size, ratio=0.5, feather=0.0))
        assert np.array_equal(pasted, photo)


def test_paste_touches_only_the_masked_disc(data_dir):
    photo = read_image(f'{data_dir}/images/opencv_messi5.jpg')
    crop = SquareCrop(200, 40, 120)
    white = np.full((64, 64, 3), 255, np.uint8)
    mask = paste_mask(crop.size, ratio=0.3, feather=0.15)
    pasted = paste_back(photo, crop, white, mask)
    changed = np.any(pasted != photo, axis=2)
    ys, xs = np.nonzero(changed)
    centre = 200 + 59.5, 40 + 59.5
    assert np.hypot(xs - centre[0], ys - centre[1]).max() <= 0.45 * 120 + 1
    assert pasted[100, 260].tolist() == [255, 255, 255]  # the disc's centre is the new face
    # the mask is 1 inside the radius, 0 at the crop's edge, and falls monotonically
    assert mask[60, 60] == 1 and mask[0, 60] == 0 and mask[60, 0] == 0
    assert np.all(np.diff(mask[60, 60:]) <= 1e-6)


def test_colour_match_maps_source_statistics():
    rng = np.random.default_rng(0)
    source = rng.normal(120, 20, (50, 50, 3)).clip(0, 255)
    animated = source * 0.8 + 30  # a model that renders darker and flatter
    fixed = ColourMatch(animated, source, np.ones((50, 50)))(animated)
    np.testing.assert_allclose(fixed, source, atol=1e-3)
