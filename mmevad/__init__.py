"""mmevad: EVAD (ICCV 2023) as MMAction2 modules.

``import mmevad`` (what ``custom_imports = dict(imports=['mmevad'])`` does) first mends the known
defects of the installed OpenMMLab stack (:mod:`mmevad.compat`), then registers mmdet's and
mmaction2's modules and every mmevad module in their registries.
"""
import mmcv
import mmengine
from mmengine.utils import digit_version

# Compatible ranges [minimum, maximum) of the OpenMMLab packages, the same as
# requirements/runtime.txt (tests/test_packaging.py checks that they agree). Checked before
# anything else so that a wrong version fails here, with the fix, rather than deep inside an
# import. The versions mmevad is tested with are pinned in tools/install.sh.
REQUIRED_VERSIONS = {
    'mmengine': ('0.7.1', '1.0.0'),
    'mmcv': ('2.0.0rc4', '2.2.0'),
    'mmdet': ('3.0.0', '4.0.0'),
    'mmaction2': ('1.0.0', '2.0.0'),
}


def check_version(package: str, version: str) -> None:
    """Raise ImportError if ``version`` of ``package`` (its pip name) is outside
    :data:`REQUIRED_VERSIONS`."""
    minimum, maximum = REQUIRED_VERSIONS[package]
    if not digit_version(minimum) <= digit_version(version) < digit_version(maximum):
        raise ImportError(
            f'mmevad needs {package}>={minimum},<{maximum} but {package}=={version} is '
            f'installed; install a version in that range (bash tools/install.sh sets up the '
            f'tested ones)')


check_version('mmengine', mmengine.__version__)
check_version('mmcv', mmcv.__version__)

import mmdet  # noqa: E402  (after the mmcv / mmengine check: mmdet asserts on them itself)
import mmaction  # noqa: E402

check_version('mmdet', mmdet.__version__)
check_version('mmaction2', mmaction.__version__)

from . import compat  # noqa: E402

compat.apply_all()

# mmdet first: mmaction registers its AVA heads into mmdet's registries.
from mmdet.utils import register_all_modules as _register_mmdet  # noqa: E402
from mmaction.utils import register_all_modules as _register_mmaction  # noqa: E402

_register_mmdet(init_default_scope=False)
_register_mmaction(init_default_scope=False)

from . import (datasets, engine, evaluation, models, structures,  # noqa: E402,F401
               visualization)
from .version import __version__  # noqa: E402

__all__ = ['__version__', 'check_version', 'REQUIRED_VERSIONS']
