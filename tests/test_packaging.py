"""Packaging: the version ranges mmevad declares and checks, and configs in a built wheel."""
import glob
import os.path as osp
import shutil
import subprocess
import sys
import zipfile

import mmaction
import mmcv
import mmdet
import mmengine
import pytest
from _utils import ROOT
from packaging.requirements import Requirement

import mmevad


def _runtime_requirements():
    with open(osp.join(ROOT, 'requirements', 'runtime.txt')) as f:
        lines = (line.split('#', 1)[0].strip() for line in f)
        return {req.name: req for req in map(Requirement, filter(None, lines))}


def test_runtime_ranges_are_the_ones_checked_at_import():
    requirements = _runtime_requirements()
    for package, (minimum, maximum) in mmevad.REQUIRED_VERSIONS.items():
        specs = {(spec.operator, spec.version) for spec in requirements[package].specifier}
        assert specs == {('>=', minimum), ('<', maximum)}, package


def test_installed_versions_are_in_range():
    for package, module in [('mmengine', mmengine), ('mmcv', mmcv), ('mmdet', mmdet),
                            ('mmaction2', mmaction)]:
        mmevad.check_version(package, module.__version__)  # raises if not


@pytest.mark.parametrize('package, version, expected', [
    ('mmcv', '2.2.0', 'mmcv>=2.0.0rc4,<2.2.0'),
    ('mmcv', '1.7.1', 'mmcv>=2.0.0rc4,<2.2.0'),
    ('mmengine', '1.0.0', 'mmengine>=0.7.1,<1.0.0'),
    ('mmdet', '2.28.2', 'mmdet>=3.0.0,<4.0.0'),
    ('mmaction2', '0.24.1', 'mmaction2>=1.0.0,<2.0.0'),
])
def test_version_outside_the_range_is_refused(package, version, expected):
    with pytest.raises(ImportError, match=f'needs {expected} but {package}=={version}'):
        mmevad.check_version(package, version)


def test_wheel_ships_configs_and_tools(tmp_path):
    """``pip wheel .`` (a non-editable build) puts configs/, tools/ and model-index.yml under
    ``mmevad/.mim/``, where mim and installed users find them. Built from a copy of the
    repository, so the build leaves the working tree untouched."""
    top_level = {'.git', '.venv', 'data', 'work_dirs', 'build', 'dist', '.pytest_cache'}

    def ignore(folder, names):
        return [
            n for n in names if n in ('__pycache__', '.mim') or n.endswith(('.egg-info', '.pyc'))
            or (osp.samefile(folder, ROOT) and n in top_level)
        ]

    src = tmp_path / 'src'
    shutil.copytree(ROOT, src, symlinks=True, ignore=ignore)
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation',
                    '--disable-pip-version-check', '-q', str(src), '-w', str(tmp_path)],
                   check=True, capture_output=True)
    wheel, = glob.glob(str(tmp_path / 'mmevad-*.whl'))
    names = set(zipfile.ZipFile(wheel).namelist())

    expected = {
        'mmevad/.mim/' + osp.relpath(p, ROOT)
        for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.*'), recursive=True)
        + glob.glob(osp.join(ROOT, 'tools', '**', '*.*'), recursive=True)
        if '__pycache__' not in p
    }
    assert expected <= names
    assert 'mmevad/.mim/model-index.yml' in names
    assert 'mmevad/.mim/configs/evad/metafile.yml' in names
    assert not [n for n in names if '__pycache__' in n or n.endswith('.pyc')]
