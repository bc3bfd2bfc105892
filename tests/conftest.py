"""Shared fixtures. ``import mmevad`` registers everything once for the whole session."""
import mmevad  # noqa: F401
from mmengine.registry import DefaultScope

# Tests build modules the way the runner does: inside the mmaction default scope.
if not DefaultScope.check_instance_created('mmevad-tests'):
    DefaultScope.get_instance('mmevad-tests', scope_name='mmaction')
