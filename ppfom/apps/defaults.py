"""The animation's default options, in one place: the CLI (``first-order-demo.py``), the Python
API (:class:`~ppfom.apps.FirstOrderPredictor`) and the web app (:mod:`ppfom.apps.web`) all read
them from here."""

MODEL = 'ppfom-talk64'        # --model: the bundled talking-face model (ppfom/weights/MODEL_CARD.md)
OUTPUT = 'output'             # --output: result folder
FILENAME = 'result.mp4'       # --filename
RATIO = 0.4                   # --ratio: pasted disc radius / crop side (0.5 reaches the edges)
RATIO_RANGE = (0.1, 0.7)      # accepted --ratio values
PASTE = 'head'                # --paste: head-shaped mask from landmarks, or 'disc' (--ratio)
PASTE_CHOICES = ('head', 'disc')
FACE_DETECTOR = 'blazeface'   # --face_detector (bundled, works offline)
CROP_DRIVING = 'auto'         # --crop_driving
CROP_DRIVING_CHOICES = ('auto', 'on', 'off')
BATCH_SIZE = 1                # --batch_size: driving frames per network call
ENHANCER = 'gfpgan'           # --enhancer
ENHANCER_CHOICES = ('gfpgan', 'gpen')
BACKEND = 'auto'              # --backend (see ppfom.apps.model_loading.make_backend)
BACKEND_CHOICES = ('auto', 'eager', 'inference')
PRECISION = 'auto'            # --precision
PRECISION_CHOICES = ('auto', 'fp32', 'bf16')
RELATIVE = True               # relative motion (--absolute turns it off)
ADAPT_SCALE = True            # scale the motion by the faces' sizes (--no_adapt_scale)
