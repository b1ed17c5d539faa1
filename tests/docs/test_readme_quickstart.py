"""The README's quick start, extracted from the README and run as written (the install line is
checked against this environment; ``.ci/run`` runs the whole block in a shell).

    python tests/docs/test_readme_quickstart.py     # prints the block's commands
"""
import os
import re
import shlex
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def quick_start_commands(readme=os.path.join(ROOT, 'README.md')):
    """The command lines of the first ```bash block under '## Quick start'."""
    text = open(readme, encoding='utf-8').read()
    section = text.split('## Quick start', 1)[1]
    block = re.search(r'```bash\n(.*?)```', section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def test_readme_quick_start_runs_as_written(tmp_path):
    lines = quick_start_commands()
    assert len(lines) == 2  # install; animate
    install, animate = lines
    import paddle
    assert f'paddlepaddle=={paddle.__version__}' in install and 'pip install -e .' in install
    argv = shlex.split(animate)
    assert argv[0] == 'ppfom' and argv[1] == 'animate'
    # run in a fresh folder that has the repository's docs/ (where the example media live)
    os.symlink(os.path.join(ROOT, 'docs'), tmp_path / 'docs')
    env = dict(os.environ, PYTHONPATH=ROOT)
    result = subprocess.run([sys.executable, '-m', 'ppfom', *argv[1:]], cwd=str(tmp_path),
                            env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / 'output' / 'result.mp4'
    assert result.stdout.strip() == 'output/result.mp4' and out.is_file()
    import imageio_ffmpeg
    assert imageio_ffmpeg.count_frames_and_secs(str(out))[0] == 150  # every driving frame


if __name__ == '__main__':
    print('\n'.join(quick_start_commands()))
