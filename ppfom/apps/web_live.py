"""The web page's Live tab: the browser's webcam drives the photo in real time.

:class:`WebLive` is the logic (no gradio import; tested directly): one
:class:`~ppfom.apps.live.LiveAnimator` fed by the webcam frames the page streams, answering each
frame at once with the newest animated frame (frames the animator cannot keep up with are
dropped, never queued), with the reference-pose reset. :func:`build_live_tab` is the layout,
added to the page by :func:`ppfom.apps.web_page.build_app`.
"""
from ..utils.logger import get_logger
from .live import LiveAnimator
from .web import DEFAULT_SIZE, InputError, PageOptions, check_photo, error_message

STREAM_EVERY = 0.04  # seconds between webcam frames sent by the page (up to 25 fps)
START_FIRST = 'Choose a photo and press Start, then allow the webcam and press its Record button.'


class WebLive:
    """The Live tab's state: the predictor (kept while the model options stay the same) and the
    running :class:`LiveAnimator`.

    Args:
        choices: the page's model menu (``{label: ModelChoice}``, see
            :func:`ppfom.apps.web.model_choices`).
        predictor_factory: ``FirstOrderPredictor`` (replaceable in tests).
        device: ``'cpu'``, ``'gpu'`` or None. image_size: the page's default size entry.
    """

    def __init__(self, choices, predictor_factory=None, device=None, image_size=DEFAULT_SIZE):
        if predictor_factory is None:
            from .first_order_predictor import FirstOrderPredictor as predictor_factory
        self.choices, self.factory, self.device = choices, predictor_factory, device
        self.image_size = str(image_size)
        self.live = None
        self._predictor = self._key = None

    def _predictor_for(self, kwargs):
        key = tuple(sorted(kwargs.items()))
        if self._predictor is None or key != self._key:
            self._predictor = self._key = None  # free the old networks first
            self._predictor = self.factory(device=self.device, progress=False, **kwargs)
            self._key = key
        return self._predictor

    def start(self, photo, model_label, relative=True, adapt_scale=True, crop=True):
        """Prepare ``photo`` (an uploaded path) with the ``model_label`` model; returns
        ``(the photo at rest (H, W, 3) uint8 or None, status)`` (never raises)."""
        self.stop()
        try:
            check_photo(photo)
            if model_label not in self.choices:
                raise InputError(f'unknown model {model_label!r}; choose one from the menu')
            options = PageOptions(relative=relative, adapt_scale=adapt_scale, crop=crop,
                                  image_size=self.image_size)
            kwargs = options.predictor_kwargs(self.choices[model_label])
            kwargs.update(batch_size=1, face_enhancement=False)
            self.live = LiveAnimator(self._predictor_for(kwargs), photo).start()
        except (ValueError, OSError, KeyError, RuntimeError, MemoryError) as exc:
            return None, 'Error: ' + error_message(exc, paths=(photo,))
        return self.live.still, ('Ready: allow the webcam and press its Record button; look '
                                 'straight at it (that pose shows the photo as it is).')

    def frame(self, image):
        """One webcam frame (``(H, W, 3)`` uint8 RGB, or None) -> ``(newest animated frame,
        status)``: the frame is handed to the animator and the answer is what it has finished
        so far (the photo at rest until the first frame is animated)."""
        live = self.live
        if live is None:
            return None, START_FIRST
        if live.error is not None:
            message = 'Error: ' + error_message(live.error)
            self.stop()
            return None, message
        if image is not None:
            live.submit(image[..., :3])
        latest = live.latest
        if latest is None:
            return live.still, 'Starting…'
        if latest.status:
            return latest.image, latest.status[:1].upper() + latest.status[1:] + '.'
        return latest.image, (f'Live: {live.stats.readout()}; {live.stats.delivered} frames '
                              'animated.')

    def reset(self):
        """Take the reference pose again from the next webcam frame; returns the status."""
        if self.live is None:
            return START_FIRST
        self.live.request_reset()
        return 'Reference pose taken again from the next frame.'

    def stop(self):
        if self.live is not None:
            self.live.stop()
            get_logger().info('live: stopped (%s)', self.live.stats.readout())
            self.live = None


def build_live_tab(gr, live, labels):
    """The Live tab's components and events, inside the page's ``gr.Blocks`` (``gr``: the
    gradio module; ``live``: :class:`WebLive`; ``labels``: the model menu).

    Element ids used by the browser test: ``live_photo``, ``live_start``, ``live_camera``,
    ``live_output``, ``live_reset``, ``live_status``.
    """
    gr.Markdown('Your webcam drives the photo in real time. Choose a photo, press **Start**, '
                'allow the webcam and press its **Record** button. **Reset pose** takes your '
                'current pose as the one that shows the photo as it is.')
    with gr.Row():
        with gr.Column():
            photo = gr.File(label='Photo (jpg / png)', elem_id='live_photo', type='filepath')
            model = gr.Dropdown(labels, value=labels[0], label='Model')
            with gr.Row():
                relative = gr.Checkbox(True, label='Relative motion (recommended)')
                adapt_scale = gr.Checkbox(True, label='Adapt scale')
                crop = gr.Checkbox(True, label='Crop to the face')
            start = gr.Button('Start', variant='primary', elem_id='live_start')
            camera = gr.Image(label='Webcam', sources=['webcam'], streaming=True, type='numpy',
                              elem_id='live_camera', height=240)
        with gr.Column():
            output = gr.Image(label='Animated', elem_id='live_output', interactive=False,
                              height=360)
            reset = gr.Button('Reset pose', elem_id='live_reset')
            status = gr.Markdown(START_FIRST, elem_id='live_status')
    start.click(live.start, [photo, model, relative, adapt_scale, crop], [output, status],
                concurrency_limit=1)
    camera.stream(live.frame, camera, [output, status], stream_every=STREAM_EVERY,
                  concurrency_limit=1, show_progress='hidden')
    reset.click(live.reset, None, status)
