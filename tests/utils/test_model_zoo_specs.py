"""Every model zoo entry is well formed: a download URL or bundled weights, sizes as numbers
(a positional URL once landed in ``network_size``, leaving ``url`` None)."""
import os

from ppfom.utils.model_zoo import MODEL_ZOO, config_path


def test_zoo_entries_have_a_source_and_numeric_sizes():
    assert {'vox256', 'vox512', 'vox-mobile'} <= set(MODEL_ZOO)
    for name, spec in MODEL_ZOO.items():
        assert (spec.url or '').startswith('https://') or spec.bundled, name
        assert isinstance(spec.image_size, int) and spec.image_size % 64 == 0, name
        assert spec.network_size is None or isinstance(spec.network_size, int), name
        assert os.path.isfile(config_path(spec.config)), name
    assert MODEL_ZOO['vox256'].url.endswith('/first_order_model/vox-cpk.pdparams')
    assert MODEL_ZOO['vox512'].url.endswith('/vox-cpk-512.pdparams')
    assert MODEL_ZOO['vox-mobile'].url.endswith('/vox-mobile.pdparams')
