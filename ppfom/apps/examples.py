"""The example media shipped in the package (``ppfom/examples``): PaddleGAN's Apache-2.0 demo
photo, its five-face painting and the first 2 seconds of its driving video (attribution in
``ppfom/examples/NOTICE``; full-size copies under PaddleGAN's names in the repository's
``docs/imgs``)."""
import os

EXAMPLES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                            'examples')
SOURCE_IMAGE = os.path.join(EXAMPLES_DIR, 'fom_source_image.jpg')       # 256x256, one face
MULTI_PERSON_IMAGE = os.path.join(EXAMPLES_DIR, 'multi_person_5faces.jpg')  # 800x600, 5 faces
DRIVING_VIDEO = os.path.join(EXAMPLES_DIR, 'fom_dv.mp4')               # 60 frames, 30 fps


def gallery():
    """The web page's examples: ``[[photo, driving video, multi_person], ...]``."""
    return [[SOURCE_IMAGE, DRIVING_VIDEO, False], [MULTI_PERSON_IMAGE, DRIVING_VIDEO, True]]
