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


def test_paddlegan_cache_is_used_before_downloading(tmp_path, monkeypatch):
    """A file PaddleGAN downloaded (``~/.cache/ppgan/<name>``) is used where it is; with a
    known checksum a wrong copy there is not used."""
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    ppgan = tmp_path / 'home' / '.cache' / 'ppgan'
    ppgan.mkdir(parents=True)
    (ppgan / 'vox-cpk.pdparams').write_bytes(b'paddlegan copy')
    url = (tmp_path / 'offline' / 'vox-cpk.pdparams').as_uri()  # unreachable
    cache = str(tmp_path / 'cache')
    assert get_path_from_url(url, folder=cache) == str(ppgan / 'vox-cpk.pdparams')
    assert not os.path.exists(cache)  # nothing downloaded or copied
    (ppgan / 'GFPGANv1.4.pth').write_bytes(b'not the release file')
    with pytest.raises(DownloadError, match='cannot download GFPGANv1.4.pth'):
        get_path_from_url((tmp_path / 'offline' / 'GFPGANv1.4.pth').as_uri(), folder=cache)


def test_known_checksums_are_sha256_and_unknown_ones_are_listed():
    from ppfom.utils.download import KNOWN_SHA256
    from ppfom.utils.model_zoo import MODEL_ZOO
    names = {s.url.rsplit('/', 1)[-1] for s in MODEL_ZOO.values() if s.url}
    assert names <= set(KNOWN_SHA256)  # every downloadable model is listed, checked or not
    for digest in KNOWN_SHA256.values():
        assert digest is None or (len(digest) == 64 and int(digest, 16) >= 0)
