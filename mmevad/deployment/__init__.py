"""Export of EVAD to ONNX (``tools/deployment/export_onnx.py``)."""
from .onnx_export import (EVADTensorOutputs, export_onnx, export_rewrites, onnx_outputs,
                          stage_names, use_separable_roi_align)
from .stage_check import parity_tolerance, teacher_forced_errors

__all__ = [
    'EVADTensorOutputs', 'export_onnx', 'export_rewrites', 'onnx_outputs',
    'stage_names', 'use_separable_roi_align', 'parity_tolerance', 'teacher_forced_errors'
]
