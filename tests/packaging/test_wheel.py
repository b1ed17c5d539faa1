"""The built wheel, installed into a fresh virtual environment, animates the example it ships
with the ``ppfom`` command, offline, away from the checkout (frame count, the --audio file).

The environment sees the system's site-packages (Paddle is not installed again); the wheel is
installed with --no-deps, and the test checks that ``ppfom`` is imported from the environment."""
import os
import shutil
import subprocess
import sys
import zipfile

import imageio_ffmpeg

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SKIP = shutil.ignore_patterns('.git', 'build', 'dist', '*.egg-info', '__pycache__', 'output',
                              'tests', 'benchmarks', '.pytest_cache')


def run(cmd, **kwargs):
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, \
        f'{cmd} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}'
    return result


def test_wheel_installs_and_animates_the_shipped_example_offline(tmp_path):
    source = tmp_path / 'src'
    shutil.copytree(ROOT, source, symlinks=True, ignore=SKIP)  # keep the checkout clean
    run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '-q',
         '--disable-pip-version-check', '-w', str(tmp_path / 'dist'), str(source)])
    wheel, = (tmp_path / 'dist').glob('ppfom-*.whl')
    names = zipfile.ZipFile(wheel).namelist()
    for name in ('ppfom/cli.py', 'ppfom/__main__.py', 'ppfom/apps/demo_cli.py',
                 'ppfom/apps/web_app.py', 'ppfom/engine/main.py', 'ppfom/examples/fom_dv.mp4',
                 'ppfom/examples/NOTICE', 'ppfom/configs/firstorder_bundled.yaml',
                 'ppfom/configs/firstorder_talk.yaml', 'ppfom/weights/ppfom_talk64.pdparams',
                 'ppfom/modules/facemesh_canonical.npz',
                 'ppfom/faceutils/face_landmarks/weights/face_landmark.tflite'):
        assert name in names, name
    assert os.path.getsize(wheel) < 30_000_000

    venv = tmp_path / 'venv'
    run([sys.executable, '-m', 'venv', '--system-site-packages', str(venv)])
    python, ppfom = str(venv / 'bin' / 'python'), str(venv / 'bin' / 'ppfom')
    run([python, '-m', 'pip', 'install', '-q', '--no-deps', '--disable-pip-version-check',
         str(wheel)])
    work = tmp_path / 'work'
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'PPFOM_SHARED')}
    env.update(PPFOM_HOME=str(tmp_path / 'cache'), NO_PROXY='*', HTTPS_PROXY='http://0.0.0.0:9',
               HTTP_PROXY='http://0.0.0.0:9')  # offline: any download would fail
    where = run([python, '-c', 'import ppfom; print(ppfom.__file__)'], cwd=str(work), env=env)
    assert where.stdout.strip().startswith(str(venv))

    tone = str(work / 'voice.wav')
    run([imageio_ffmpeg.get_ffmpeg_exe(), '-loglevel', 'error', '-f', 'lavfi', '-i',
         'sine=frequency=300:duration=1', tone])
    result = run([ppfom, 'animate', '--example', '--audio', tone], cwd=str(work), env=env)
    out = work / 'output' / 'result.mp4'
    assert result.stdout.strip() == os.path.join('output', 'result.mp4')
    assert 'ccache' not in result.stderr
    gen = imageio_ffmpeg.read_frames(str(out))
    meta = next(gen)
    gen.close()
    frames, seconds = imageio_ffmpeg.count_frames_and_secs(str(out))
    assert frames == 60 and meta['fps'] == 30 and meta['audio_codec'] == 'aac'
    assert abs(seconds - 2.0) < 0.1
    result = run([python, '-m', 'ppfom', '--version'], cwd=str(work), env=env)
    assert result.stdout.startswith('ppfom ')
