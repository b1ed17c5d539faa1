"""The download cache: offline failure in one line, checksums, no poisoned cache."""
import hashlib
import os

import pytest

from ppfom.utils.download import DownloadError, get_path_from_url


def test_offline_failure_names_file_url_and_flag(tmp_path):
    url = (tmp_path / 'remote' / 'vox-cpk.pdparams').as_uri()
    with pytest.raises(DownloadError) as err:
        get_path_from_url(url, folder=str(tmp_path / 'cache'), flag='--weight_path')
    message = str(err.value)
    assert 'vox-cpk.pdparams' in message and url in message and '--weight_path' in message
    assert '\n' not in message
    assert os.listdir(tmp_path / 'cache') == []


def test_download_checksum_and_cache(tmp_path):
    remote = tmp_path / 'remote.bin'
    remote.write_bytes(b'weights' * 1000)
    digest = hashlib.sha256(remote.read_bytes()).hexdigest()
    cache = str(tmp_path / 'cache')
    path = get_path_from_url(remote.as_uri(), sha256=digest, folder=cache)
    assert open(path, 'rb').read() == remote.read_bytes()
    remote.unlink()  # cached: no second download
    assert get_path_from_url(remote.as_uri(), sha256=digest, folder=cache) == path


def test_bad_checksum_is_rejected_and_not_cached(tmp_path):
    remote = tmp_path / 'remote.bin'
    remote.write_bytes(b'tampered')
    cache = tmp_path / 'cache'
    with pytest.raises(DownloadError, match='checksum'):
        get_path_from_url(remote.as_uri(), sha256='0' * 64, folder=str(cache))
    assert os.listdir(cache) == []
