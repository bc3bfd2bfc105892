"""mmevad: EVAD (ICCV 2023) as MMAction2 modules.

``import mmevad`` (what ``custom_imports = dict(imports=['mmevad'])`` does) first mends the known
defects of the installed OpenMMLab stack (:mod:`mmevad.compat`), then registers mmdet's and
mmaction2's modules and every mmevad module in their registries.
"""
from . import compat

compat.apply_all()

# mmdet first: mmaction registers its AVA heads into mmdet's registries.
from mmdet.utils import register_all_modules as _register_mmdet  # noqa: E402
from mmaction.utils import register_all_modules as _register_mmaction  # noqa: E402

_register_mmdet(init_default_scope=False)
_register_mmaction(init_default_scope=False)

from . import datasets, engine, models, structures, visualization  # noqa: E402,F401
from .version import __version__  # noqa: E402

__all__ = ['__version__']
