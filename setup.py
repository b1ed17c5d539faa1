"""Install ppfom. PaddlePaddle is not pulled in: install `paddlepaddle` or `paddlepaddle-gpu` first."""
import os
import re

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def read(name):
    with open(os.path.join(HERE, name), encoding='utf-8') as f:
        return f.read()


def requirements(name):
    return [line.split('#')[0].strip() for line in read(name).splitlines()
            if line.split('#')[0].strip()]


version = re.search(r"__version__ = '([^']+)'", read('ppfom/__init__.py')).group(1)

setup(
    name='ppfom',
    version=version,
    description='Image animation with the First Order Motion Model, in PaddlePaddle',
    long_description=read('README.md'),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    url='https://github.com/ppfom/ppfom',
    packages=find_packages(include=['ppfom', 'ppfom.*']),
    include_package_data=True,
    package_data={'ppfom': ['configs/*.yaml', 'weights/*', 'examples/*', 'modules/*.npz',
                          'faceutils/face_detection/weights/*',
                          'faceutils/face_landmarks/weights/*']},
    entry_points={'console_scripts': ['ppfom = ppfom.cli:main']},
    python_requires='>=3.8',
    install_requires=requirements('requirements.txt'),
    extras_require={'web': ['gradio>=5'], 'logs': ['visualdl'], 'onnx': ['paddle2onnx'],
                    'live': ['pyvirtualcam'],
                    'eval': requirements('requirements-eval.txt')},
)
