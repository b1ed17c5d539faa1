"""The Gradio page of the web app (``applications/tools/gradio_app.py``): layout only; what the
page does is :mod:`ppfom.apps.web`. gradio is imported inside :func:`build_app` (an optional
dependency: ``pip install -r requirements-web.txt``)."""
from dataclasses import fields

from . import defaults
from .web import DEFAULT_SIZE, InputError, PageOptions, check_photo, error_message, size_choices
from .web_live import WebLive, build_live_tab

INTRO = """# ppfom: animate a photo with a driving video
First Order Motion Model (Siarohin et al., NeurIPS 2019) in PaddlePaddle. Upload a photo with a
face and a short driving video (or pick an example), then press **Animate**.
上传一张人脸照片和一段驱动视频（或选择示例），点击 **Animate** 生成动画视频。"""


def _option_inputs(gr, sizes, default_size):
    """One input per :class:`PageOptions` field, laid out in rows, with the page's defaults;
    returns ``{field name: component}``."""
    page = PageOptions()
    inputs = {}
    with gr.Row():
        inputs['relative'] = gr.Checkbox(page.relative, label='Relative motion (recommended)')
        inputs['adapt_scale'] = gr.Checkbox(page.adapt_scale, label='Adapt scale')
    with gr.Row():
        inputs['crop'] = gr.Checkbox(page.crop, label='Crop to the face')
        inputs['multi_person'] = gr.Checkbox(page.multi_person, label='Animate every face',
                                             elem_id='multi_person')
    with gr.Row():
        inputs['find_best_frame'] = gr.Checkbox(page.find_best_frame,
                                                label='Find the best starting frame')
        inputs['best_frame'] = gr.Number(page.best_frame or 0, precision=0, minimum=0,
                                         label='Start from driving frame (0: the first)')
    low, high = defaults.RATIO_RANGE
    inputs['ratio'] = gr.Slider(low, high, value=page.ratio, step=0.05, label='Paste ratio',
                                info=f'size of the pasted face region ({page.ratio} face, '
                                     '0.5 whole crop)')
    with gr.Row():
        inputs['image_size'] = gr.Dropdown(sizes, value=str(default_size), label='Image size',
                                           info='256 or 512 (512 uses the 512 model)')
        inputs['face_enhancement'] = gr.Checkbox(page.face_enhancement,
                                                 label='Face enhancement (GFPGAN)')
        inputs['audio'] = gr.Checkbox(page.audio, label='Keep the audio')
    return inputs


def build_app(animator, examples=(), default_size=DEFAULT_SIZE):
    """The Gradio page (a ``gr.Blocks``) around ``animator`` (:class:`~ppfom.apps.web.WebAnimator`).

    Element ids used by the browser test: ``photo``, ``driving``, ``animate``, ``status``,
    ``result``, ``download``; the Live tab's are :func:`~ppfom.apps.web_live.build_live_tab`'s.
    """
    import gradio as gr

    def preview(path):
        if not path:
            return None, ''
        try:
            check_photo(path)
        except InputError as exc:
            return None, 'Error: ' + error_message(exc)
        return path, ''

    # progress first: gradio fills a Progress default only among the leading positional
    # parameters; then photo, video, model label and the PageOptions fields, in order
    def run(progress=gr.Progress(track_tqdm=True), *inputs):
        yield None, None, 'Running…'
        progress(0, desc='loading the model')
        path, status = animator.animate(*inputs)
        yield path, path, status

    labels = list(animator.choices)
    sizes = size_choices(None if default_size == DEFAULT_SIZE else default_size)
    with gr.Blocks(title='ppfom: First Order Motion Model') as app:
        gr.Markdown(INTRO)
        with gr.Tab('Animate'):
            with gr.Row():
                with gr.Column():
                    photo = gr.File(label='Photo (jpg / png)', elem_id='photo', type='filepath')
                    photo_view = gr.Image(label='Photo preview', interactive=False, height=240)
                    driving = gr.Video(label='Driving video (mp4 / mov / avi / webm)',
                                       elem_id='driving', sources=['upload'], height=240)
                with gr.Column():
                    model = gr.Dropdown(labels, value=labels[0], label='Model')
                    options = _option_inputs(gr, sizes, default_size)
                    button = gr.Button('Animate', variant='primary', elem_id='animate')
                    status = gr.Markdown('', elem_id='status')
                    result = gr.Video(label='Result', elem_id='result', interactive=False,
                                      height=320)
                    download = gr.File(label='Download', elem_id='download', interactive=False)
            if examples:
                gr.Examples(examples, [photo, driving, options['multi_person']], label='Examples')
        photo.change(preview, photo, [photo_view, status])
        inputs = [photo, driving, model] + [options[f.name] for f in fields(PageOptions)]
        button.click(run, inputs, [result, download, status], concurrency_limit=1)
        with gr.Tab('Live'):
            build_live_tab(gr, WebLive(animator.choices, animator.factory, animator.device,
                                       default_size), labels)
    return app
