# MMAction2's runtime (default_scope 'mmaction', hooks, logging, visualizer) plus mmevad's modules.
_base_ = 'mmaction::_base_/default_runtime.py'

# importing mmevad applies its compat fixes and registers EVAD's modules; a failed import stops
# the run instead of surfacing later as "not in the registry"
custom_imports = dict(imports=['mmevad'], allow_failed_imports=False)

# repeats each epoch what EVADAVADataset clipped or dropped in the annotations (nothing if clean)
custom_hooks = [dict(type='DataReportHook')]
