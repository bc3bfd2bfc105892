# MMAction2's runtime (default_scope 'mmaction', hooks, logging, visualizer) plus mmevad's modules.
_base_ = 'mmaction::_base_/default_runtime.py'

# importing mmevad applies its compat fixes and registers EVAD's modules; a failed import stops
# the run instead of surfacing later as "not in the registry"
custom_imports = dict(imports=['mmevad'], allow_failed_imports=False)

# EVAD's detections drawn on raw keyframes; tools/test.py --show-dir / --show switch drawing on
# (draw=True), e.g. --cfg-options default_hooks.visualization.draw=True for validation.
visualizer = dict(type='EVADLocalVisualizer', vis_backends=[dict(type='LocalVisBackend')],
                  name='visualizer')
default_hooks = dict(visualization=dict(type='EVADVisualizationHook', draw=False))
