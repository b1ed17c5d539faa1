"""The docs keep up with the code: every flag of the demo and of the web app is documented in
both languages, and every relative link in docs/ points to a file that exists."""
import glob
import importlib.util
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCS = os.path.join(ROOT, 'docs')


def load_script(name):
    path = os.path.join(ROOT, 'applications', 'tools', name)
    spec = importlib.util.spec_from_file_location(name.replace('-', '_')[:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def flags(parser):
    return sorted(opt for action in parser._actions for opt in action.option_strings
                  if opt.startswith('--') and opt != '--help')


@pytest.mark.parametrize('lang', ['en_US', 'zh_CN'])
def test_every_demo_and_web_app_flag_is_documented(lang):
    text = open(os.path.join(DOCS, lang, 'motion_driving.md'), encoding='utf-8').read()
    demo = flags(load_script('first-order-demo.py').build_parser())
    web = flags(load_script('gradio_app.py').build_parser())
    assert len(demo) >= 20 and '--relative' in demo and '--host' in web
    missing = [f for f in demo + web if f'`{f}' not in text]
    assert not missing, f'{lang}/motion_driving.md does not document {missing}'


def test_relative_links_in_the_docs_exist():
    broken = []
    for page in glob.glob(os.path.join(DOCS, '**', '*.md'), recursive=True):
        text = open(page, encoding='utf-8').read()
        for link in re.findall(r'\]\(([^)#\s]+)(?:#[^)]*)?\)', text):
            if re.match(r'[a-z]+://', link):
                continue
            target = os.path.normpath(os.path.join(os.path.dirname(page), link))
            if not os.path.exists(target):
                broken.append(f'{os.path.relpath(page, ROOT)} -> {link}')
    assert not broken, broken


def test_both_languages_have_the_same_pages():
    pages = {lang: {os.path.basename(p) for p in glob.glob(os.path.join(DOCS, lang, '*.md'))}
             for lang in ('en_US', 'zh_CN')}
    for name in ('README.md', 'motion_driving.md', 'training.md', 'datasets.md', 'export.md',
                 'model_zoo.md', 'faq.md'):
        assert name in pages['en_US'] and name in pages['zh_CN'], name
