"""Inference API: build a model, detect the actors of a clip or a whole video, save and draw
the results (:class:`EVADInferencer`)."""
from .clip_sampling import KeyframeClipPipeline, KeyframeStream, keyframe_index_of
from .inference import (VideoSource, detect_clip, detect_video, init_detector,
                        iter_video_detections, open_video)
from .inferencer import EVADInferencer
from .results import KeyframeDetections

__all__ = [
    'EVADInferencer', 'init_detector', 'detect_clip', 'detect_video', 'iter_video_detections',
    'open_video', 'VideoSource', 'KeyframeDetections', 'KeyframeClipPipeline', 'KeyframeStream',
    'keyframe_index_of'
]
