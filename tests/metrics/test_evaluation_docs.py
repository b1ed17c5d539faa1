"""docs/*/evaluation.md document every flag of tools/evaluate_animation.py and the evaluation
flags of tools/main.py, in both languages."""
import os
import re
import sys

import pytest


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, 'tools'))
import evaluate_animation  # noqa: E402
import main as train_cli  # noqa: E402

MAIN_FLAGS = ['--evaluate-only', '--max-frames', '--no-face-metrics']


@pytest.mark.parametrize('lang', ['en_US', 'zh_CN'])
def test_evaluation_flags_are_documented(lang):
    text = open(os.path.join(ROOT, 'docs', lang, 'evaluation.md'), encoding='utf-8').read()
    animation = sorted(o for a in evaluate_animation.build_parser()._actions
                       for o in a.option_strings if o.startswith('--') and o != '--help')
    assert len(animation) >= 10 and '--pairs' in animation
    args = train_cli.parse_args(['-c', 'x.yaml', *MAIN_FLAGS[:2], '3', MAIN_FLAGS[2]])
    assert args.evaluate_only and args.max_frames == 3 and args.no_face_metrics
    missing = [f for f in animation + MAIN_FLAGS
               if not re.search(rf'(?<![\w-]){re.escape(f)}(?![\w-])', text)]
    assert not missing, f'{lang}/evaluation.md does not document {missing}'
