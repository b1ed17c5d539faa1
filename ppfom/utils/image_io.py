"""Reading photos into RGB uint8, whatever their format."""
import os

import cv2
import imageio.v3 as iio
import numpy as np


class ImageReadError(ValueError):
    """The source image is missing or unreadable; the message names the file and what to do."""


def to_rgb_uint8(image):
    """Convert any decoded image to ``(H, W, 3)`` RGB uint8.

    * grayscale ``(H, W)`` or ``(H, W, 1)``: replicated to three channels;
    * RGBA / gray+alpha: composited over white (transparent pixels have no defined colour);
    * 16-bit or float: rescaled to 0..255 (floats are assumed in ``[0, 1]``).
    Channel order of colour input must already be RGB.
    """
    image = np.asarray(image)
    if np.issubdtype(image.dtype, np.integer):
        image = image.astype(np.float32) / float(np.iinfo(image.dtype).max)
    else:
        image = image.astype(np.float32)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f'unsupported image shape {image.shape}')
    alpha = None
    if image.shape[2] in (2, 4):
        image, alpha = image[:, :, :-1], image[:, :, -1:]
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    if alpha is not None:
        image = image * alpha + (1.0 - alpha)
    return np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)


def read_image(path):
    """Read a photo as ``(H, W, 3)`` RGB uint8 (see :func:`to_rgb_uint8` for the conversions).

    Raises:
        ImageReadError: the file does not exist, is empty, or is not an image.
    """
    if not os.path.isfile(path):
        raise ImageReadError(f'source image not found: {path}; check --source_image')
    if os.path.getsize(path) == 0:
        raise ImageReadError(f'source image {path} is empty (0 bytes); pass a real photo')
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if image is not None:
        if image.ndim == 3 and image.shape[2] >= 3:  # OpenCV decodes BGR(A)
            order = [2, 1, 0, 3][:image.shape[2]]
            image = image[:, :, order]
    else:
        try:  # formats OpenCV does not read (GIF, some TIFF/WebP builds)
            image = iio.imread(path, index=0)
        except Exception as exc:
            raise ImageReadError(f'cannot read {path} as an image ({type(exc).__name__}); pass a '
                                 'PNG or JPEG photo') from exc
    try:
        return to_rgb_uint8(image)
    except ValueError as exc:
        raise ImageReadError(f'{path}: {exc}; pass an RGB, grayscale or RGBA photo') from exc
