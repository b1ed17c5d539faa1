"""Helpers shared by the face tests."""
import numpy as np


def read_rgb(path):
    """An image file as uint8, as decoded by imageio (Pillow), channels untouched."""
    import imageio.v3 as iio
    return np.asarray(iio.imread(path))
