"""The Gradio page of the web app (``applications/tools/gradio_app.py``): layout only; what the
page does is :mod:`ppfom.apps.web`. gradio is imported inside :func:`build_app` (an optional
dependency: ``pip install -r requirements-web.txt``)."""
import time
from dataclasses import fields

from . import defaults
from .web import DEFAULT_SIZE, InputError, PageOptions, check_photo, error_message, size_choices
from .web_live import WebLive, build_live_tab

INTRO = """# ppfom: animate a photo with a driving video
First Order Motion Model (Siarohin et al., NeurIPS 2019) in PaddlePaddle. Upload a photo with a
face and a short driving video (or pick an example below), then press **Animate**.
上传一张人脸照片和一段驱动视频（或选择下方示例），点击 **Animate** 生成动画视频。"""


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
    with gr.Row():
        inputs['paste'] = gr.Radio(list(defaults.PASTE_CHOICES), value=page.paste,
                                   label='Paste back',
                                   info='head: the animated head only (neck, clothes and '
                                        'background stay the photo\'s); disc: a disc of the ratio')
        inputs['ratio'] = gr.Slider(low, high, value=page.ratio, step=0.05,
                                    label='Paste ratio (disc)',
                                    info=f'radius of the pasted disc ({page.ratio} face, '
                                         '0.5 whole crop)')
    with gr.Row():
        inputs['image_size'] = gr.Dropdown(sizes, value=str(default_size), label='Image size',
                                           info='256 or 512 (512 uses the 512 model)')
        inputs['face_enhancement'] = gr.Checkbox(page.face_enhancement,
                                                 label='Face enhancement (GFPGAN)')
        inputs['audio'] = gr.Checkbox(page.audio, label='Keep the audio')
    inputs['crop_driving'] = gr.Radio(list(defaults.CROP_DRIVING_CHOICES), value=page.crop_driving,
                                      label='Crop the driving video to the face',
                                      info='auto: framed as the photo is (when the photo is '
                                           'cropped); on: always; off: the frames as they are')
    return inputs


def build_app(animator, examples=(), default_size=DEFAULT_SIZE):
    """The Gradio page (a ``gr.Blocks``) around ``animator`` (:class:`~ppfom.apps.web.WebAnimator`).

    One progress display (stage name, frames done, time left); failures end as an error toast
    and an ``Error: ...`` status line; Clear empties inputs and result, Stop ends a run at its
    next batch. Element ids used by the browser test: ``photo``, ``driving``, ``examples``,
    ``animate``, ``stop``, ``clear``, ``status``, ``result``, ``download``, ``model``.
    The Live tab's ids are :func:`~ppfom.apps.web_live.build_live_tab`'s.
    """
    import gradio as gr

    def check(path):
        if path:
            try:
                check_photo(path)
            except InputError as exc:
                gr.Warning(error_message(exc))

    # progress first: gradio fills a Progress default only among the leading positional
    # parameters; then photo, video, model label and the PageOptions fields, in order
    def run(progress=gr.Progress(), *inputs):
        yield None, None, 'Running…'
        started = {}

        def report(stage, done, total):
            now = time.time()
            first = started.setdefault(stage, (now, done))
            desc = stage
            if total > 1 and done > first[1]:
                left = (now - first[0]) / (done - first[1]) * (total - done)
                desc = f'{stage}: {done}/{total}, about {left:.0f} s left'
            progress(done / total if total else None, desc=desc)

        path, status = animator.animate(*inputs, report=report)
        yield path, path, status
        if status.startswith('Error: '):
            raise gr.Error(status[len('Error: '):], title='Could not animate')

    def stop():
        animator.request_stop()
        gr.Info('Stopping at the next frame batch…')

    labels = list(animator.choices)
    sizes = size_choices(None if default_size == DEFAULT_SIZE else default_size)
    with gr.Blocks(title='ppfom: First Order Motion Model') as app:
        gr.Markdown(INTRO)
        with gr.Tab('Animate'):
            with gr.Row():
                with gr.Column():
                    photo = gr.Image(label='Photo (jpg / png)', elem_id='photo', type='filepath',
                                     format='png', sources=['upload', 'clipboard'], height=260)
                    driving = gr.Video(label='Driving video (mp4 / mov / avi / webm)',
                                       elem_id='driving', sources=['upload'], height=260)
                with gr.Column():
                    model = gr.Dropdown(labels, value=labels[0], label='Model', elem_id='model',
                                        info='models marked "needs a download" are fetched once')
                    options = _option_inputs(gr, sizes, default_size)
            if examples:
                with gr.Column(elem_id='examples'):
                    gr.Examples(examples, [photo, driving, options['multi_person']],
                                label='Examples (click one to fill the inputs)')
            with gr.Row():
                button = gr.Button('Animate', variant='primary', elem_id='animate')
                stop_button = gr.Button('Stop', variant='stop', elem_id='stop')
                clear = gr.ClearButton(value='Clear', elem_id='clear')
            status = gr.Markdown('', elem_id='status')
            with gr.Row():
                result = gr.Video(label='Result', elem_id='result', interactive=False, height=320)
                download = gr.File(label='Download', elem_id='download', interactive=False)
            photo.upload(check, photo, None)
            inputs = [photo, driving, model] + [options[f.name] for f in fields(PageOptions)]
            event = button.click(run, inputs, [result, download, status], concurrency_limit=1)
            stop_button.click(stop, None, None, cancels=[event], queue=False)
            clear.add([photo, driving, result, download, status])
        with gr.Tab('Live'):
            build_live_tab(gr, WebLive(animator.choices, animator.factory, animator.device,
                                       default_size), labels)
    return app
