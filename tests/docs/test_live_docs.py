"""live-demo.py's flags are documented in both languages' live.md."""
import os

import pytest

from test_docs import DOCS, flags, load_script


@pytest.mark.parametrize('lang', ['en_US', 'zh_CN'])
def test_every_live_demo_flag_is_documented(lang):
    text = open(os.path.join(DOCS, lang, 'live.md'), encoding='utf-8').read()
    parser = load_script('live-demo.py').build_parser()
    hidden = {opt for action in parser._actions if action.help == '==SUPPRESS=='
              for opt in action.option_strings}
    live = [f for f in flags(parser) if f not in hidden]
    assert '--camera' in live and '--virtual_camera' in live and '--output' not in live
    missing = [f for f in live if f'`{f}' not in text]
    assert not missing, f'{lang}/live.md does not document {missing}'
