"""ppfom: image animation with the First Order Motion Model, in PaddlePaddle."""
__version__ = '0.1.0'

import warnings as _warnings

# Paddle warns on import that ccache is missing: it matters only when compiling C++ extensions,
# which ppfom never does
_warnings.filterwarnings('ignore', message='No ccache found', category=UserWarning)
