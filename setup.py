"""Installation of mmevad. Dependencies come from ``requirements/*.txt`` (compatible ranges);
``tools/install.sh`` pins the tested versions.

mmcv must be installed *with compiled ops* before this package: PyPI only has its source
release, which pip would build without ops. ``bash tools/install.sh`` does the whole set-up.
"""
import os
import os.path as osp
import shutil
import sys

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))

# Shipped inside the package as mmevad/.mim/, the OpenMMLab convention that mim (and anyone with
# a non-editable install) uses to find a package's configs and tools.
MIM_FILES = ('configs', 'tools', 'model-index.yml')
MIM_DIR = osp.join(HERE, 'mmevad', '.mim')


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


def add_mim_extension():
    """Fill ``mmevad/.mim/`` for the running setuptools command and list its files.

    Editable installs (``develop`` / ``editable_wheel``) get symlinks to the repository's
    folders, so edits show at once; wheels and source distributions get copies, since the
    repository is not there after installation. Other commands (e.g. ``egg_info``) leave it alone.

    Returns:
        list[str]: package-data paths relative to ``mmevad/``, for ``package_data``.
    """
    commands = set(sys.argv[1:])
    if commands & {'develop', 'editable_wheel'}:
        mode = 'symlink'
    elif commands & {'bdist_wheel', 'sdist', 'build', 'install'}:
        mode = 'copy'
    else:
        mode = None
    if mode is not None:
        # rebuilt from scratch so that a renamed or deleted config does not linger in a copy
        if osp.islink(MIM_DIR) or osp.isfile(MIM_DIR):
            os.remove(MIM_DIR)
        elif osp.isdir(MIM_DIR):
            shutil.rmtree(MIM_DIR)
        os.makedirs(MIM_DIR)
        ignore = shutil.ignore_patterns('__pycache__', '*.pyc')
        for name in MIM_FILES:
            src, dst = osp.join(HERE, name), osp.join(MIM_DIR, name)
            if mode == 'symlink':
                os.symlink(osp.relpath(src, MIM_DIR), dst)
            elif osp.isdir(src):
                shutil.copytree(src, dst, ignore=ignore)
            else:
                shutil.copyfile(src, dst)
    files = []
    for root, _, names in os.walk(MIM_DIR, followlinks=True):
        files += [osp.relpath(osp.join(root, n), osp.dirname(MIM_DIR)) for n in names
                  if not n.endswith('.pyc')]
    return sorted(files)


setup(
    name='mmevad',
    version=read_version(),
    description='EVAD (ICCV 2023) video action detection for MMAction2',
    long_description=open(osp.join(HERE, 'README.md')).read()
    if osp.exists(osp.join(HERE, 'README.md')) else '',
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'tests.*')),
    python_requires='>=3.8',
    # configs and tools as mmevad/.mim (OpenMMLab's mim layout), and the AVA label maps
    # (mmevad.datasets.label_maps) that are read at run time
    package_data={
        'mmevad': add_mim_extension(),
        'mmevad.datasets.label_maps': ['*.pbtxt']
    },
    install_requires=read_requirements('runtime'),
    extras_require=dict(tests=read_requirements('tests'), deploy=read_requirements('deploy')),
    zip_safe=False,
)
