"""``evaluate``: the numbers of ``tools/main.py --evaluate-only`` from Python."""
from ..utils.config import get_config
from .trainer import Trainer


def evaluate(config_file, weight_path=None, opts=(), output_dir=None, face=True, max_frames=None,
             seed=None):
    """Run FOMM's reconstruction protocol on the config's test split and write
    ``output_dir/metrics.json``, as ``tools/main.py -c CONFIG --load WEIGHTS --evaluate-only``.

    Args:
        config_file: YAML config (its ``dataset.test`` section names the clips).
        weight_path: network weights (any layout ``--load`` reads); None keeps the initial ones.
        opts: ``KEY=VALUE`` overrides (``-o``), e.g. ``['dataset.test.max_frames=120']``.
        output_dir: run folder (default ``output_dir/<config>-<time>``).
        max_frames: only the first ``max_frames`` frames of each clip (``--max-frames``).
        face: also PSNR, SSIM, AKD, AED and missing (needs ``pip install 'ppfom[eval]'``).
    Returns the metrics dict (:func:`ppfom.metrics.summarize`): ``reconstruction_l1``,
    ``static_baseline_l1``, ``akd``/``static_akd`` (pixels at 256), ``aed``/``static_aed``,
    ``missing``/``static_missing`` (share of frames), ``psnr`` (dB), ``ssim``, ``per_video``.
    Raises ``ConfigError``, ``DatasetError``, ``CheckpointError`` or
    :class:`~ppfom.metrics.EvalDependencyError` with one-line messages.
    """
    cfg = get_config(config_file, list(opts))
    trainer = Trainer(cfg, config_file, seed=seed, run_dir=output_dir, evaluate_only=True)
    if weight_path:
        trainer.load(weight_path)
    return trainer.evaluate(face=face, max_frames=max_frames)
