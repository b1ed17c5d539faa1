"""docs/tutorials/first_order_motion.ipynb executed end to end with small settings (nbclient):
the small seeded model at 128 pixels, the first 16 frames of the repository's example video, 2
training iterations. The notebook's own asserts check frame counts, audio and the training run.
The executed copy (first_order_motion_executed.ipynb, for reading) has the same code, small
outputs and no error."""
import json
import os
import time

import pytest

from helpers import write_small_model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NOTEBOOK = os.path.join(ROOT, 'docs', 'tutorials', 'first_order_motion.ipynb')
EXECUTED = os.path.join(ROOT, 'docs', 'tutorials', 'first_order_motion_executed.ipynb')


def test_notebook_is_committed_without_outputs():
    nb = json.load(open(NOTEBOOK, encoding='utf-8'))
    code = [c for c in nb['cells'] if c['cell_type'] == 'code']
    assert code and all(c['outputs'] == [] and c['execution_count'] is None for c in code)
    text = ''.join(''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'markdown')
    assert '训练' in text and 'Train' in text  # Chinese and English
    assert 'https://github.com/' in ''.join(''.join(c['source']) for c in nb['cells'])


def test_executed_copy_has_the_same_code_and_small_outputs():
    clean = json.load(open(NOTEBOOK, encoding='utf-8'))
    executed = json.load(open(EXECUTED, encoding='utf-8'))
    assert [c['source'] for c in executed['cells']] == [c['source'] for c in clean['cells']]
    code = [c for c in executed['cells'] if c['cell_type'] == 'code']
    assert all(c['execution_count'] for c in code)
    outputs = [o for c in code for o in c['outputs']]
    assert not [o for o in outputs if o['output_type'] == 'error']
    images = [o for o in outputs if 'image/jpeg' in o.get('data', {})]
    assert len(images) >= 3  # frame strips of the results
    assert os.path.getsize(EXECUTED) < 400_000


def test_notebook_runs_with_small_settings(fixtures_dir, data_dir, tmp_path, monkeypatch):
    try:
        import nbclient
        import nbformat
    except ImportError:
        pytest.fail('the notebook test needs nbclient and ipykernel: '
                    'pip install nbclient ipykernel')
    config, weights = write_small_model(fixtures_dir, str(tmp_path))
    for key, value in dict(PPFOM_REPO=ROOT, PPFOM_WORK=str(tmp_path / 'work'),
                           PPFOM_WEIGHTS=weights, PPFOM_CONFIG=config, PPFOM_IMAGE_SIZE='128',
                           PPFOM_NOTEBOOK_SMALL='1').items():
        monkeypatch.setenv(key, value)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    start = time.time()
    nbclient.NotebookClient(nb, timeout=300, kernel_name='python3',
                            resources={'metadata': {'path': os.path.dirname(NOTEBOOK)}}).execute()
    print(f'notebook ran in {time.time() - start:.1f} s')
    work = tmp_path / 'work'
    for name in ('one_face.mp4', 'five_faces.mp4', 'dubbed.mp4', 'silent.mp4', 'my_model.mp4'):
        assert (work / name).is_file(), name
    assert (work / 'exported' / 'ppfom_export.json').is_file()
    metrics = json.load(open(work / 'eval' / 'metrics.json'))
    assert metrics['num_videos'] == 2 and metrics['num_frames'] == 16
    errors = [o for c in nb.cells if c.cell_type == 'code' for o in c.outputs
              if o.output_type == 'error']
    assert not errors
