import importlib.util
import json
import os

import numpy as np
import pytest


@pytest.fixture(scope='session')
def s3fd_fixture(fixtures_dir):
    """(npz, json, weights): the S3FD fixture and its recipe weights (seed 0, torch names)."""
    spec = importlib.util.spec_from_file_location('face_recipe',
                                                  os.path.join(fixtures_dir, 'recipe.py'))
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    meta = json.load(open(os.path.join(fixtures_dir, 's3fd_fixture.json')))
    weights = recipe.make_weights(meta['keys_and_shapes'], meta['weights']['seed'])
    return np.load(os.path.join(fixtures_dir, 's3fd_fixture.npz')), meta, weights


@pytest.fixture(scope='session')
def sfd_detector(s3fd_fixture):
    from ppfom.faceutils.face_detection import build_detector
    return build_detector('sfd', state_dict=s3fd_fixture[2], max_side=None)
