"""Paddle Inference backend: the exported programs (:mod:`ppfom.inference.export`) run by
``paddle.inference`` with oneDNN on CPU (fp32 or bf16) or on a GPU (optionally TensorRT).

Same interface as :class:`ppfom.inference.EagerBackend` (numpy in, numpy out, float32)::

    backend = load_inference_backend(model_cfg, 'vox-cpk.pdparams', precision='bf16')
    kp_source = backend.keypoints(source)            # (1, 3, H, W) in [0, 1]
    backend.set_source(source, kp_source)            # source encoder runs once
    frames = backend.animate(kp_driving_normalised)  # (N, 3, H, W) in [0, 1]

Models whose keypoints are measured from face landmarks (``backend.takes_landmarks``) take
``keypoints(landmarks)`` ``(N, 468, 2)`` in ``[-1, 1]`` instead of images (their keypoint dicts
carry the ``landmarks`` too: a generator with ``mesh_motion`` reads them). Models rendered above
their networks' resolution (``compose_deformed``, exported with an ``output_size``) take the
sources at that size too: ``set_source(source, kp_source, source_output)``.
"""
import os

import numpy as np
import paddle.inference as paddle_infer

from ..utils.logger import get_logger
from ..utils.download import sha256sum
from ..utils.predictor import (DEVICES, PRECISIONS, PrecisionNotSupportedError,  # noqa: F401
                               check_precision, cpu_supports_bf16, make_config)
from .export import (ExportError, export_cache_dir, export_from_weights, program_files,
                     read_export_meta)
from .programs import SOURCE_OUTPUTS

USER_CACHE = os.path.join(os.path.expanduser('~'), '.cache', 'ppfom', 'exports')
# under --precision bf16, the precision of each program. The keypoint detector stays fp32: its
# softmax (temperature 0.1) turns bf16 rounding into keypoint errors of 0.1 (5% of the image);
# the source encoder runs once per video, so fp32 costs nothing there.
BF16_PROGRAMS = {'kp_detector': 'fp32', 'source_encoder': 'fp32', 'generator': 'bf16'}


class _Program:
    """One predictor with named numpy inputs and outputs."""

    def __init__(self, folder, name, **config_args):
        model_file, params_file = program_files(folder, name)
        self.predictor = paddle_infer.create_predictor(
            make_config(model_file, params_file, **config_args))
        self.inputs = {n: self.predictor.get_input_handle(n)
                       for n in self.predictor.get_input_names()}
        self.output_names = list(SOURCE_OUTPUTS) if name == 'source_encoder' else None
        self.outputs = [self.predictor.get_output_handle(n)
                        for n in self.predictor.get_output_names()]

    def __call__(self, **arrays):
        """Run on named float32 arrays (extra names are ignored); returns the outputs in order."""
        for name, handle in self.inputs.items():
            array = np.ascontiguousarray(arrays[name], dtype=np.float32)
            handle.reshape(array.shape)
            handle.copy_from_cpu(array)
        self.predictor.run()
        return [out.copy_to_cpu() for out in self.outputs]


class PaddleInferenceBackend:
    """Runs the exported ``kp_detector``, ``source_encoder`` and ``generator`` programs.

    Args:
        model_dir: an export folder (see :func:`ppfom.inference.export.export_networks`).
        precision: ``'fp32'`` or ``'bf16'`` (CPU with native bf16 only).
        threads: CPU math threads (default: all cores).
        batch_size: driving frames per program run; larger inputs are split. 1 is fastest on a
            CPU (measured: batch 1, 4, 8 at 4.7, 3.9, 3.3 frames/s in bf16 on 2 cores).
        device: ``'cpu'`` or ``'gpu'``; ``tensorrt`` for TensorRT on a GPU.
        check_files: verify the sha256 of every exported file against the metadata.
    Raises:
        ExportError: the folder is missing or corrupt.
        PrecisionNotSupportedError: bf16 on a CPU without bf16.
    """

    name = 'inference'

    def __init__(self, model_dir, precision='fp32', threads=None, batch_size=1, device='cpu',
                 tensorrt=False, check_files=True):
        check_precision(precision, device)
        if int(batch_size) < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        self.meta = read_export_meta(model_dir, check_files=check_files)
        self.model_dir = model_dir
        self.precision = precision
        self.batch_size = int(batch_size)
        args = dict(threads=threads, device=device, tensorrt=tensorrt)
        # keypoints measured from landmarks: a few small matmuls, in fp32 on Paddle's own CPU
        # kernels (the eager backend's), whose summation order gives eager's keypoints to the
        # last bit; oneDNN's differ by ~2e-6 in the jacobians, which absolute motion at 256 px
        # turns into frame differences above 1e-4
        landmarks = bool(self.meta.get('takes_landmarks'))
        try:
            self.programs = {
                name: _Program(model_dir, name, **args,
                               precision=BF16_PROGRAMS[name] if precision == 'bf16' else 'fp32',
                               **({'onednn': False} if landmarks and name == 'kp_detector'
                                  and device == 'cpu' else {}))
                for name in ('kp_detector', 'source_encoder', 'generator')}
        except (RuntimeError, ValueError, OSError) as exc:
            if isinstance(exc, (PrecisionNotSupportedError,)) or 'paddlepaddle-gpu' in str(exc):
                raise
            raise ExportError(f'cannot load the exported programs in {model_dir} '
                              f'({type(exc).__name__}: {str(exc).strip().splitlines()[-1]}); '
                              'delete the folder (or pass --rebuild_export) to export again'
                              ) from exc
        self.image_size = tuple(self.meta['image_size'])
        self.output_size = tuple(self.meta.get('output_size') or self.image_size)
        self.takes_landmarks = bool(self.meta.get('takes_landmarks'))
        self._source = None

    def _check_images(self, images, what):
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[1] != 3 or tuple(images.shape[2:]) != self.image_size:
            raise ValueError(f'{what} must be (N, 3, {self.image_size[0]}, {self.image_size[1]}) '
                             f'(the exported size), got {images.shape}; resize the frames or '
                             'export for this size')
        return images

    def keypoints(self, images):
        """``(N, 3, H, W)`` in ``[0, 1]`` -> ``{'value': (N, K, 2), 'jacobian': (N, K, 2, 2)}``;
        for a model that reads landmarks (:attr:`takes_landmarks`), ``(N, L, 2)`` face
        landmarks in ``[-1, 1]`` (x, y; FaceMesh: ``L = 468``) -> the same. Raises
        ``ValueError`` for another shape."""
        if self.takes_landmarks:
            landmarks = np.asarray(images)
            count = self.meta['num_landmarks']
            if landmarks.ndim != 3 or landmarks.shape[1:] != (count, 2):
                raise ValueError(f'this model reads face landmarks (N, {count}, 2) in [-1, 1], '
                                 f'got an array of shape {landmarks.shape}; pass the landmarks '
                                 'of the frames, not the frames')
            parts = [self.programs['kp_detector'](landmarks=landmarks)]  # tiny: one run
        else:
            images = self._check_images(images, 'images')
            parts = [self.programs['kp_detector'](image=images[i:i + self.batch_size])
                     for i in range(0, len(images), self.batch_size)]
        out = {'value': np.concatenate([p[0] for p in parts])}
        if self.meta['has_jacobian']:
            out['jacobian'] = np.concatenate([p[1] for p in parts])
        if self.takes_landmarks:
            out['landmarks'] = np.asarray(landmarks, np.float32)
        return out

    def set_source(self, source, kp_source, source_output=None):
        """Run the source encoder once per source.

        Args:
            source: ``(F, 3, H, W)`` in ``[0, 1]``, one or several sources (faces).
            kp_source: their keypoints, ``(F, K, 2)`` / ``(F, K, 2, 2)``.
            source_output: the same sources at the exported output size ``(F, 3, H_out,
                W_out)`` (``compose_deformed`` models only; needed when the output size is
                larger than the networks'): frames are then composed at that size.
        Raises:
            ValueError: a source of another size, or ``source_output`` missing, of another
                size, or given to a model that cannot compose.
        """
        compose = bool(self.meta.get('compose_deformed'))
        if source_output is not None and not compose:
            raise ValueError('this model renders frames at its networks\' size '
                             f'{self.image_size} only (no compose_deformed); pass '
                             'source_output=None')
        if compose and source_output is None and self.output_size != self.image_size:
            raise ValueError(f'this export renders at {self.output_size}: pass the sources at '
                             'that size as source_output')
        source = self._check_images(source, 'source')
        if compose:
            source_output = source if source_output is None else np.asarray(source_output)
            if (source_output.ndim != 4 or len(source_output) != len(source)
                    or tuple(source_output.shape[1:]) != (3,) + self.output_size):
                raise ValueError(f'source_output must be ({len(source)}, 3, {self.output_size[0]}, '
                                 f'{self.output_size[1]}) (the exported output size), got '
                                 f'{source_output.shape}; resize the sources or export for this '
                                 'output size')
        value = np.asarray(kp_source['value'], np.float32)
        if len(value) != len(source):
            raise ValueError(f'{len(source)} sources but {len(value)} source keypoint sets')
        self._source = []
        for f in range(len(source)):
            outputs = self.programs['source_encoder'](source=source[f:f + 1])
            cached = dict(zip(self.programs['source_encoder'].output_names, outputs))
            cached['kp_source_value'] = value[f:f + 1]
            if compose:
                cached['source_image'] = source_output[f:f + 1]
            if self.meta['has_jacobian']:
                cached['kp_source_jacobian'] = np.asarray(kp_source['jacobian'],
                                                          np.float32)[f:f + 1]
            if self.meta.get('mesh_motion'):
                cached['kp_source_landmarks'] = np.asarray(kp_source['landmarks'],
                                                           np.float32)[f:f + 1]
            self._source.append(cached)

    def animate(self, kp_driving):
        """Normalised driving keypoints, ``F * N`` entries source-major (item ``f * N + n`` is
        frame ``n`` for source ``f``) -> ``(F * N, 3, H_out, W_out)`` frames in ``[0, 1]`` (the
        exported output size, the networks' size unless exported with a larger one)."""
        if self._source is None:
            raise RuntimeError('call set_source() before animate()')
        value = np.asarray(kp_driving['value'], np.float32)
        jacobian = (np.asarray(kp_driving['jacobian'], np.float32)
                    if self.meta['has_jacobian'] else None)
        landmarks = (np.asarray(kp_driving['landmarks'], np.float32)
                     if self.meta.get('mesh_motion') else None)
        sources = len(self._source)
        if len(value) % sources:
            raise ValueError(f'{len(value)} driving keypoint sets cannot be split evenly over '
                             f'{sources} sources')
        n = len(value) // sources
        frames = []
        for f, cached in enumerate(self._source):
            for i in range(f * n, (f + 1) * n, self.batch_size):
                stop = min(i + self.batch_size, (f + 1) * n)
                inputs = dict(cached, kp_driving_value=value[i:stop])
                if jacobian is not None:
                    inputs['kp_driving_jacobian'] = jacobian[i:stop]
                if landmarks is not None:
                    inputs['kp_driving_landmarks'] = landmarks[i:stop]
                frames.append(self.programs['generator'](**inputs)[0])
        return np.concatenate(frames)


def load_inference_backend(model_cfg, weights_path, image_size=(256, 256), precision='fp32',
                           threads=None, batch_size=1, device='cpu', tensorrt=False,
                           export_dir=None, cache_root=None, rebuild=False, fallback=False,
                           border_blend=False, output_size=None):
    """The inference backend for ``weights_path``, exporting it first if needed.

    Args:
        model_cfg: the ``model`` config section. image_size: ``(H, W)`` or one int (the
            network's resolution). precision, threads, batch_size, device, tensorrt: see
            :class:`PaddleInferenceBackend`. border_blend: the generator's ``inference`` flag
            (PaddleGAN's border blend). output_size: ``(H_out, W_out)`` or one int, the size
            of the frames when larger than the networks' (``compose_deformed`` models; see
            :func:`ppfom.inference.export.export_networks`); default ``image_size``.
        export_dir: use this folder instead of the cache. The cache is
            :func:`ppfom.inference.export.export_cache_dir`: beside the weights, under
            ``cache_root``, or under ``~/.cache/ppfom/exports`` when the weights' folder is
            read-only.
        rebuild: export again even if the folder exists.
        fallback: on an unusable export, return an :class:`EagerBackend` (and log why).
    Raises:
        ExportError: a corrupt export, one made from other weights or for another size (unless
            ``rebuild`` or ``fallback``).
        PrecisionNotSupportedError: bf16 on a CPU without bf16.
        ppfom.utils.checkpoint.CheckpointError: weights that cannot be read or do not fit.
    """
    check_precision(precision, device)
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    image_size = tuple(int(v) for v in image_size)
    if isinstance(output_size, int):
        output_size = (output_size, output_size)
    output_size = image_size if output_size is None else tuple(int(v) for v in output_size)
    if cache_root is None and not os.access(os.path.dirname(os.path.abspath(weights_path)),
                                            os.W_OK):
        cache_root = USER_CACHE        # e.g. weights inside a read-only site-packages
    weights_sha256 = sha256sum(weights_path)
    folder = export_dir or export_cache_dir(weights_path, weights_sha256, model_cfg, image_size,
                                            cache_root, border_blend, output_size)
    log = get_logger()
    try:
        if rebuild or not os.path.exists(folder):
            log.info('exporting %s for Paddle Inference to %s', weights_path, folder)
            export_from_weights(model_cfg, weights_path, folder, image_size, weights_sha256,
                                border_blend, output_size)
        meta = read_export_meta(folder)
        if meta.get('weights_sha256') != weights_sha256:
            raise ExportError(f'export folder {folder} was made from other weights '
                              f'({meta.get("weights_file")}, sha256 '
                              f'{str(meta.get("weights_sha256"))[:12]}...) than {weights_path}; '
                              'pass --rebuild_export to export these weights there')
        if tuple(meta['image_size']) != tuple(image_size):
            raise ExportError(f'export folder {folder} is for {meta["image_size"]} images, not '
                              f'{list(image_size)}; pass --rebuild_export')
        if tuple(meta.get('output_size') or meta['image_size']) != output_size:
            raise ExportError(f'export folder {folder} renders {meta.get("output_size")} frames, '
                              f'not {list(output_size)}; pass --rebuild_export')
        return PaddleInferenceBackend(folder, precision, threads, batch_size, device, tensorrt,
                                      check_files=False)
    except ExportError as exc:
        if not fallback:
            raise
        log.warning('%s; falling back to the eager backend as asked', exc)
        from ..models.networks import load_networks
        from .eager import EagerBackend
        return EagerBackend(*load_networks(model_cfg, weights_path, inference=border_blend))
