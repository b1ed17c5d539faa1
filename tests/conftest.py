import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get('PPFOM_SHARED', os.path.join(ROOT, '..', 'shared'))
FIXTURES = os.path.join(SHARED, 'fixtures')
DATA = os.path.join(SHARED, 'data')
sys.path.insert(0, ROOT)


@pytest.fixture(scope='session')
def fixtures_dir():
    assert os.path.isdir(FIXTURES), f'{FIXTURES} is missing: the tests need ../shared beside the checkout'
    return FIXTURES


@pytest.fixture(scope='session')
def data_dir():
    assert os.path.isdir(DATA), f'{DATA} is missing: the tests need ../shared beside the checkout'
    return DATA
