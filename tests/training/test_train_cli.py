"""tools/main.py end to end on real frames (in-process: no interpreter start-up per run)."""
import glob
import json
import os
import sys

import numpy as np
import paddle
import pytest

from conftest import ROOT, TINY_CONFIG, decode

sys.path.insert(0, os.path.join(ROOT, 'tools'))
import main as cli  # noqa: E402

from ppfom.utils.checkpoint import load_fomm_state  # noqa: E402


def run(args):
    assert cli.main(args) == 0


def flat(state, prefix=''):
    """Nested checkpoint dict -> ``{path: numpy array}`` (tensors and numbers only)."""
    out = {}
    for key, value in state.items():
        path = f'{prefix}/{key}'
        if isinstance(value, dict):
            out.update(flat(value, path))
        elif hasattr(value, 'numpy') or isinstance(value, (np.ndarray, int, float)):
            out[path] = np.asarray(value.numpy() if hasattr(value, 'numpy') else value)
    return out


def test_two_iterations_then_resume_matches_uninterrupted_run(tiny_opts, tmp_path):
    # run A: 2 iterations straight
    run(['-c', TINY_CONFIG, '-o', *tiny_opts, '--output-dir', str(tmp_path / 'a')])
    log = open(tmp_path / 'a' / 'log.txt').read()
    lines = [line for line in log.splitlines() if ' iter ' in line]
    assert len(lines) == 2 and 'iter 2/2' in lines[1]
    for line in lines:
        values = [float(tok) for tok in line.split('|')[1].split()[1::2]]
        assert len(values) == 6 and np.all(np.isfinite(values)), line
    assert 'samples/s' in lines[0] and 'ETA' in lines[0]
    ckpt_a = tmp_path / 'a' / 'checkpoint_last.pdparams'
    weights = tmp_path / 'a' / 'weights_iter_0000002.pdparams'
    assert ckpt_a.is_file() and weights.is_file()
    state = load_fomm_state(str(weights))  # the demo's loader reads the weights-only file
    assert set(state) == {'kp_detector', 'generator'}

    # run B: 1 iteration, then --resume for the second one
    run(['-c', TINY_CONFIG, '-o', *tiny_opts, 'total_iters=1', '--output-dir', str(tmp_path / 'b')])
    ckpt_b = tmp_path / 'b' / 'checkpoint_last.pdparams'
    after_one = paddle.load(str(ckpt_b))
    assert after_one['meta']['iteration'] == 1
    run(['-c', TINY_CONFIG, '-o', *tiny_opts, '--resume', str(ckpt_b)])
    log_b = open(tmp_path / 'b' / 'log.txt').read()
    assert 'resumed from' in log_b and 'at epoch 0, iteration 1' in log_b
    resumed_lines = [line for line in log_b.splitlines() if ' iter ' in line]
    assert [line.split(' iter ')[1].split()[0] for line in resumed_lines] == ['1/1', '2/2']

    a, b = flat(paddle.load(str(ckpt_a))), flat(paddle.load(str(ckpt_b)))
    assert a.keys() == b.keys()
    opt_keys = [k for k in a if k.startswith('/optimizer_')]
    assert len(opt_keys) > 100  # Adam moments of every parameter
    for key in a:
        np.testing.assert_allclose(b[key], a[key], rtol=1e-5, atol=1e-7, err_msg=key)
    # and the second iteration really changed the state (the comparison is not vacuous)
    one = flat(after_one)
    assert any(not np.allclose(one[k], a[k]) for k in opt_keys)


def test_evaluate_only_prints_metrics_and_matches_the_python_api(tiny_opts, tiny_dataroot,
                                                                   tmp_path, capsys):
    run(['-c', TINY_CONFIG, '-o', *tiny_opts, '--evaluate-only', '--max-frames', '6',
         '--output-dir', str(tmp_path / 'cli')])
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1] == f"wrote {tmp_path / 'cli' / 'metrics.json'}"
    header, overall = out[-5].split(), out[-2].split()
    assert header[:3] == ['clip', 'frames', 'L1'] and 'AKD' in header and 'AED' in header
    assert overall[0] == 'overall' and overall[1] == '12'
    metrics = json.load(open(tmp_path / 'cli' / 'metrics.json'))
    assert metrics['num_videos'] == 2 and metrics['num_frames'] == 12
    value = metrics['reconstruction_l1']
    assert overall[2] == f'{value:.4f}' and overall[3] == f"({metrics['static_baseline_l1']:.4f})"
    assert 0 < value < 1
    # the static baseline is mean |frame_t - frame_0| of the decoded test clips (first 6 frames)
    names = [clip['name'] for clip in metrics['per_video']]
    assert names == ['lp_d1.mp4', 'lp_d2.mp4']
    from ppfom.datasets import read_video
    diffs = []
    for name in names:
        video = read_video(os.path.join(tiny_dataroot, 'test', name), (64, 64, 3))[:6]
        diffs.append(np.abs(video - video[:1]).reshape(len(video), -1).mean(axis=1))
    assert metrics['static_baseline_l1'] == pytest.approx(np.concatenate(diffs).mean(), rel=1e-6)
    assert metrics['static_baseline_l1'] > 0
    # the static baseline's frames are real faces: found, AKD > 0 after frame 0, nothing missing
    assert metrics['static_missing'] == 0 and metrics['static_akd'] > 0
    for key in ('akd', 'aed', 'missing', 'psnr', 'ssim'):
        assert key in metrics and key in metrics['per_video'][0]
    # the piecewise reference (frame 0 warped along the landmark mesh): its own bracket per cell
    assert '[piecewise]' in header and overall[4] == f"[{metrics['piecewise_l1']:.4f}]"
    assert 0 < metrics['piecewise_l1'] < 1 and 'piecewise_akd' in metrics['per_video'][0]

    from ppfom.engine import evaluate
    api = evaluate(TINY_CONFIG, opts=tiny_opts, output_dir=str(tmp_path / 'api'), max_frames=6)
    for key in ('reconstruction_l1', 'static_baseline_l1', 'akd', 'aed', 'missing',
                'static_akd', 'static_aed', 'psnr', 'ssim', 'piecewise_l1', 'piecewise_akd'):
        assert api[key] == metrics[key], key


def test_bad_config_key_is_one_line_error(tiny_opts, tmp_path, capsys):
    assert cli.main(['-c', TINY_CONFIG, '-o', *tiny_opts, 'model.train_params.loss_weights.l2=1']) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: unknown config key 'model.train_params.loss_weights.l2'")
    bad = tmp_path / 'bad.yaml'
    bad.write_text(open(TINY_CONFIG).read() + '\nepoch: 3\n')
    assert cli.main(['-c', str(bad), '-o', *tiny_opts]) == 2
    assert "unknown config key(s) epoch" in capsys.readouterr().err


def test_dataroot_without_train_folder(tmp_path, capsys):
    (tmp_path / 'videos').mkdir()
    assert cli.main(['-c', TINY_CONFIG, '-o', f'dataset.train.dataroot={tmp_path / "videos"}',
                     f'output_dir={tmp_path / "out"}']) == 2
    err = capsys.readouterr().err
    assert f"dataroot {tmp_path / 'videos'} has no 'train/' folder" in err


def test_resume_from_another_config_or_weights_only_file(tiny_opts, tmp_path, capsys):
    run(['-c', TINY_CONFIG, '-o', *tiny_opts, 'total_iters=1', '--output-dir', str(tmp_path / 'a')])
    ckpt = str(tmp_path / 'a' / 'checkpoint_last.pdparams')
    assert cli.main(['-c', TINY_CONFIG, '-o', *tiny_opts, 'model.common_params.num_kp=6',
                     '--resume', ckpt]) == 2
    err = capsys.readouterr().err
    assert 'was trained with another model config (differs at model.common_params.num_kp (5 vs 6))' \
        in err
    weights = glob.glob(str(tmp_path / 'a' / 'weights_iter_*.pdparams'))[0]
    assert cli.main(['-c', TINY_CONFIG, '-o', *tiny_opts, '--resume', weights]) == 2
    assert 'not a full training checkpoint' in capsys.readouterr().err


def test_decode_helper_reads_real_frames(data_dir):
    frames = decode(os.path.join(data_dir, 'videos', 'lp_d1.mp4'))
    assert frames.shape == (8, 64, 64, 3) and frames.std() > 10  # real image content


def test_resume_with_the_gan_loss_switched_on(tiny_opts, tmp_path):
    off = 'model.train_params.loss_weights.generator_gan=0'
    run(['-c', TINY_CONFIG, '-o', *tiny_opts, off, 'total_iters=1', '--output-dir', str(tmp_path)])
    ckpt = tmp_path / 'checkpoint_last.pdparams'
    assert 'optimizer_discriminator' not in paddle.load(str(ckpt))
    run(['-c', TINY_CONFIG, '-o', *tiny_opts, 'validate.interval=1', '--resume', str(ckpt)])
    log = open(tmp_path / 'log.txt').read()
    assert 'has no discriminator optimiser state: it starts fresh' in log
    trained = [line for line in log.splitlines() if ' iter 2/2 ' in line]
    assert 'disc_gan' in trained[0]  # the resumed iteration trains the discriminator
    # validation every iteration: reconstruction L1 of the 2 test clips vs the static baseline
    assert 'validation at iteration 2: reconstruction L1' in log and 'on 2 clips' in log
    assert 'optimizer_discriminator' in paddle.load(str(ckpt))


class _Recorder:
    """Stands in for visualdl.LogWriter (not installed in CI)."""

    def __init__(self):
        self.scalars, self.images, self.closed = {}, [], False

    def add_scalar(self, tag, value, step):
        self.scalars.setdefault(tag, []).append((step, value))

    def add_image(self, tag, img, step):
        self.images.append((tag, img, step))

    def close(self):
        self.closed = True


def test_visualdl_gets_scalars_and_image_grids(tiny_opts, tmp_path):
    from ppfom.engine import Trainer
    from ppfom.utils.config import get_config
    cfg = get_config(TINY_CONFIG, tiny_opts + ['log_config.visiual_interval=2'])
    trainer = Trainer(cfg, TINY_CONFIG, run_dir=str(tmp_path))
    trainer.vdl = recorder = _Recorder()
    trainer.train()
    assert [s for s, _ in recorder.scalars['train/reconstruction_l1']] == [1, 2]
    assert 'lr/generator' in recorder.scalars and 'train/samples_per_s' in recorder.scalars
    (tag, img, step), = recorder.images
    assert step == 2 and img.shape == (64, 3 * 64, 3) and img.dtype == np.uint8
    assert img.std() > 5 and recorder.closed
