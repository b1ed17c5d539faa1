"""Reading photos into RGB uint8, whatever their format."""
import os

import cv2
import imageio.v3 as iio
import numpy as np
from PIL import Image, UnidentifiedImageError

EXIF_ORIENTATION = 0x0112
# EXIF orientation -> (rotations of 90 degrees counter-clockwise, flip left-right first)
_ORIENT = {2: (0, True), 3: (2, False), 4: (2, True), 5: (1, True), 6: (3, False),
           7: (3, True), 8: (1, False)}


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


def apply_orientation(image, orientation):
    """Turn pixels stored as a camera wrote them upright, per the EXIF orientation tag (1-8;
    other values leave the image unchanged). Source: EXIF 2.3, tag 0x0112."""
    turns, flip = _ORIENT.get(orientation, (0, False))
    if flip:
        image = image[:, ::-1]
    return np.ascontiguousarray(np.rot90(image, turns)) if turns or flip else image


def check_image_file(path):
    """Open ``path`` with Pillow and decode every pixel strictly; return its EXIF orientation.

    Raises :class:`ImageReadError` when it is not an image (a video given as the photo) or is
    truncated (Pillow refuses missing data where OpenCV would fill it with grey)."""
    try:
        with Image.open(path) as im:
            orientation = im.getexif().get(EXIF_ORIENTATION, 1)
            im.load()
    except UnidentifiedImageError as exc:
        raise ImageReadError(f'cannot read {path} as an image (is it a video?); pass a PNG or '
                             'JPEG photo as --source_image') from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(f'{path} is truncated or damaged ({exc}); pass the complete '
                             'photo') from exc
    return orientation


def read_image(path):
    """Read a photo as ``(H, W, 3)`` RGB uint8, upright per its EXIF orientation (see
    :func:`to_rgb_uint8` for the conversions).

    Raises:
        ImageReadError: the file does not exist, is a folder, is empty, is not an image, or is
            truncated.
    """
    if os.path.isdir(path):
        raise ImageReadError(f'source image {path} is a folder; pass a photo file')
    if not os.path.isfile(path):
        raise ImageReadError(f'source image not found: {path}; check --source_image')
    if os.path.getsize(path) == 0:
        raise ImageReadError(f'source image {path} is empty (0 bytes); pass a real photo')
    orientation = check_image_file(path)
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
        return apply_orientation(to_rgb_uint8(image), orientation)
    except ValueError as exc:
        raise ImageReadError(f'{path}: {exc}; pass an RGB, grayscale or RGBA photo') from exc
