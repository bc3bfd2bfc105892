# MMAction2's runtime (default_scope 'mmaction', hooks, logging, visualizer) plus mmevad's modules.
_base_ = 'mmaction::_base_/default_runtime.py'

# importing mmevad applies its compat fixes and registers EVAD's modules; a failed import stops
# the run instead of surfacing later as "not in the registry"
custom_imports = dict(imports=['mmevad'], allow_failed_imports=False)

# Crash-safe checkpoints (temporary file renamed into place, old ones deleted after the new one
# exists, last_checkpoint always names a complete file) and RNG states carried in checkpoints,
# so that --resume continues exactly as the uninterrupted run (mmevad.engine.hooks). The data
# report repeats each epoch what EVADAVADataset clipped or dropped in the annotations (nothing if
# clean).
# EVAD's detections drawn on raw keyframes; tools/test.py --show-dir / --show switch drawing on
# (draw=True), e.g. --cfg-options default_hooks.visualization.draw=True for validation.
visualizer = dict(type='EVADLocalVisualizer', vis_backends=[dict(type='LocalVisBackend')],
                  name='visualizer')
default_hooks = dict(
    checkpoint=dict(type='AtomicCheckpointHook'),
    visualization=dict(type='EVADVisualizationHook', draw=False))
custom_hooks = [dict(type='RandomStateHook'), dict(type='DataReportHook')]
