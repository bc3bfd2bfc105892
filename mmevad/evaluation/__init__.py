"""Metrics: frame-mAP and video-mAP on ACT-style tube ground truth (:class:`TubeMAPMetric`)."""
from .tube_metric import TubeMAPMetric

__all__ = ['TubeMAPMetric']
