"""Installation of mmevad. Dependencies come from ``requirements/*.txt``.

mmcv 2.1.0 must be installed *with compiled ops* before this package: PyPI only has its source
release, which pip would build without ops. ``bash tools/install.sh`` does the whole set-up.
"""
import os.path as osp

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_requirements(name):
    """Requirement lines of ``requirements/<name>.txt`` without comments."""
    with open(osp.join(HERE, 'requirements', f'{name}.txt')) as f:
        lines = (line.split('#', 1)[0].strip() for line in f)
        return [line for line in lines if line]


def read_version():
    namespace = {}
    with open(osp.join(HERE, 'mmevad', 'version.py')) as f:
        exec(f.read(), namespace)
    return namespace['__version__']


setup(
    name='mmevad',
    version=read_version(),
    description='EVAD (ICCV 2023) video action detection for MMAction2',
    long_description=open(osp.join(HERE, 'README.md')).read()
    if osp.exists(osp.join(HERE, 'README.md')) else '',
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'tests.*')),
    # the AVA label maps (mmevad.datasets.label_maps) are read at run time
    package_data={'mmevad.datasets.label_maps': ['*.pbtxt']},
    python_requires='>=3.8',
    install_requires=read_requirements('runtime'),
    extras_require=dict(tests=read_requirements('tests')),
    zip_safe=False,
)
