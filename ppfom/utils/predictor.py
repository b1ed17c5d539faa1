"""Paddle Inference on the ground floor: the predictor configuration every ppfom program uses
(oneDNN on CPU, fp32 or bf16; GPU, optionally TensorRT), and :class:`LayerRunner`, which runs a
small network (the face detector, the face landmarker) either eagerly or compiled once to a
cached Paddle Inference program.

The animation networks have their own export (:mod:`ppfom.inference.export`: several programs,
metadata, a cache keyed by weights and config); this module holds what both share.
"""
import copy
import hashlib
import os

import numpy as np
import paddle
import paddle.inference as paddle_infer

from .atomic import building_folder
from .download import cache_root

PRECISIONS = ('fp32', 'bf16')
DEVICES = ('cpu', 'gpu')
# Paddle 3.3 under bf16: a conv fused with the residual add stays fp32 (3x slower than the AMX
# bf16 conv and the add apart); without that fusion, the reshape fusion then mis-infers a shape
# on non-square images
BF16_DELETED_PASSES = ('conv_elementwise_add_onednn_fuse_pass',
                       'operator_reshape_onednn_fuse_pass')
BACKENDS = ('auto', 'inference', 'eager')
# bump when LayerRunner's program format changes: part of its cache key
RUNNER_FORMAT = 1


class PrecisionNotSupportedError(ValueError):
    """The requested precision cannot run on this machine."""


def cpu_supports_bf16():
    """``True`` when the CPU has native bf16 arithmetic (``avx512_bf16`` or ``amx_bf16`` in
    ``/proc/cpuinfo``, or Paddle's own oneDNN check where cpuinfo is not readable)."""
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            flags = set()
            for line in f:
                if line.startswith('flags'):
                    flags.update(line.split(':', 1)[1].split())
                    break
        return bool(flags & {'avx512_bf16', 'amx_bf16'})
    except OSError:
        core = paddle.base.core
        return bool(getattr(core, 'supports_bfloat16_fast_performance', lambda: False)())


def check_precision(precision, device='cpu'):
    """Raise ``ValueError`` for an unknown precision and :class:`PrecisionNotSupportedError` for
    bf16 on a CPU without native bf16 (emulated bf16 is slower than fp32 there)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got '{precision}'")
    if precision == 'bf16' and device == 'cpu' and not cpu_supports_bf16():
        raise PrecisionNotSupportedError(
            'bf16 needs a CPU with AVX512-BF16 or AMX-BF16 (Intel Cooper Lake / Sapphire Rapids '
            'or newer, AMD Zen 4 or newer); this CPU has neither: use --precision fp32')


def make_config(model_file, params_file, precision='fp32', threads=None, device='cpu',
                tensorrt=False, gpu_memory_mb=512, onednn=True):
    """A ``paddle.inference.Config`` for one program.

    CPU: oneDNN on (unless ``onednn=False``: Paddle's own CPU kernels, fp32 only),
    ``threads`` math threads (default: all cores), bf16 through oneDNN when
    ``precision='bf16'``. GPU: ``gpu_memory_mb`` initial pool on GPU 0, TensorRT (fp32) when
    ``tensorrt``. Raises ``RuntimeError`` for ``device='gpu'`` on a CPU-only Paddle build.
    """
    config = paddle_infer.Config(model_file, params_file)
    config.disable_glog_info()
    if device == 'gpu':
        if not paddle.is_compiled_with_cuda():
            raise RuntimeError('device gpu needs paddlepaddle-gpu; this Paddle is CPU-only: '
                               'use --device cpu')
        config.enable_use_gpu(gpu_memory_mb, 0)
        if tensorrt:
            config.enable_tensorrt_engine(workspace_size=1 << 30, max_batch_size=16,
                                          min_subgraph_size=3,
                                          precision_mode=paddle_infer.PrecisionType.Float32,
                                          use_static=False, use_calib_mode=False)
    else:
        if device != 'cpu':
            raise ValueError(f"device must be one of {', '.join(DEVICES)}, got '{device}'")
        if not onednn:
            if precision != 'fp32':
                raise ValueError('precision bf16 needs oneDNN (onednn=True)')
            config.disable_onednn()
            config.set_cpu_math_library_num_threads(int(threads or os.cpu_count() or 1))
            config.switch_ir_optim(True)
            return config
        config.enable_onednn()
        # several batch sizes (the last batch is smaller): keep their oneDNN primitives
        config.set_onednn_cache_capacity(16)
        if precision == 'bf16':
            config.enable_onednn_bfloat16()
            for name in BF16_DELETED_PASSES:
                config.delete_pass(name)
        config.set_cpu_math_library_num_threads(int(threads or os.cpu_count() or 1))
    config.switch_ir_optim(True)
    return config


def saved_program_files(prefix):
    """The files ``paddle.jit.save(layer, prefix)`` wrote: ``(model file, params file)``
    (``prefix.json`` under PIR, ``prefix.pdmodel`` before it)."""
    model = prefix + '.json' if os.path.exists(prefix + '.json') else prefix + '.pdmodel'
    return model, prefix + '.pdiparams'


def current_device():
    """``'gpu'`` when Paddle runs on a GPU, else ``'cpu'``."""
    return 'gpu' if paddle.device.get_device().startswith('gpu') else 'cpu'


class LayerRunner:
    """Runs a network on numpy arrays: eagerly, or as a Paddle Inference program compiled from it
    once and kept in a cache folder (with oneDNN on a CPU, FaceMesh and BlazeFace this way take
    the default command from 10.8 to 14.3 frames/s: ``benchmarks/bench_default.py
    --face_backends auto eager``).

    Args:
        layer: a ``paddle.nn.Layer`` in eval mode whose ``forward(x)`` returns a tensor or a
            list / tuple of tensors.
        input_shape: the input's shape, ``-1`` for the batch, e.g. ``(-1, 3, 192, 192)``.
        key: text naming the weights and graph exactly (e.g. the weights file's sha256): with
            ``input_shape``, the Paddle version and :data:`RUNNER_FORMAT`, the cache key.
        name: the cache folder's prefix (``<cache_dir>/<name>-<16 hex of the key>``).
        backend: ``'inference'``, ``'eager'``, or ``'auto'``: inference on a CPU, eager on a
            GPU (where the eager network is already fast and batches well).
        cache_dir: where programs are kept (default ``<PPFOM_HOME or ~/.cache/ppfom>/programs``).
        threads: CPU math threads of the program (default: all cores).
    Calling it with a float32 array ``(N, ...)`` returns the layer's outputs as a list of
    float32 numpy arrays, in order. Programs are fp32 (the eager results within about 1e-4).
    Raises ``ValueError`` for an unknown backend; ``OSError`` when the cache folder cannot be
    written.
    """

    def __init__(self, layer, input_shape, key, name='net', backend='auto', cache_dir=None,
                 threads=None):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got '{backend}'")
        if backend == 'auto':
            backend = 'inference' if current_device() == 'cpu' else 'eager'
        self.layer, self.backend = layer, backend
        self.input_shape = [int(v) for v in input_shape]
        self.predictor = None
        if backend == 'inference':
            digest = hashlib.sha256(repr((key, self.input_shape, paddle.__version__,
                                          RUNNER_FORMAT)).encode()).hexdigest()[:16]
            root = cache_dir or os.path.join(cache_root(), 'programs')
            self.folder = os.path.join(root, f'{name}-{digest}')
            self.predictor = self._load(threads)

    def _load(self, threads):
        prefix = os.path.join(self.folder, 'net')
        if not os.path.exists(prefix + '.pdiparams'):
            with building_folder(self.folder) as tmp:
                spec = paddle.static.InputSpec(self.input_shape, 'float32', 'x')
                # a copy: to_static replaces the layer's forward, which stays in eager use
                static = paddle.jit.to_static(copy.deepcopy(self.layer), input_spec=[spec],
                                              full_graph=True)
                paddle.jit.save(static, os.path.join(tmp, 'net'))
        model, params = saved_program_files(prefix)
        predictor = paddle_infer.create_predictor(
            make_config(model, params, threads=threads, device=current_device()))
        self._input = predictor.get_input_handle(predictor.get_input_names()[0])
        self._outputs = [predictor.get_output_handle(n) for n in predictor.get_output_names()]
        return predictor

    def __call__(self, array):
        array = np.ascontiguousarray(array, dtype=np.float32)
        if self.predictor is None:
            with paddle.no_grad():
                outs = self.layer(paddle.to_tensor(array))
            outs = outs if isinstance(outs, (list, tuple)) else [outs]
            return [o.numpy() for o in outs]
        self._input.reshape(array.shape)
        self._input.copy_from_cpu(array)
        self.predictor.run()
        return [out.copy_to_cpu() for out in self._outputs]
