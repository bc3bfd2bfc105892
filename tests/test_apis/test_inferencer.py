"""EVADInferencer: the video loop (held detections, bounded buffer, JSON) and its drawing."""
import json

import mmcv
import numpy as np
import pytest
import torch
from _utils import EVAD_TINY

from mmevad.apis import (EVADInferencer, KeyframeDetections, detect_video, iter_video_detections,
                         open_video)

TINY = EVAD_TINY


@pytest.fixture(scope='module')
def inferencer():
    torch.manual_seed(0)
    return EVADInferencer(TINY, device='cpu', show_progress=False)


def test_held_drawing_equals_the_visualizers(inferencer):
    """Frames of an interval share one drawing of their keyframe's detections (a layer drawn
    once); on any frame it gives the visualizer's own drawing of that frame."""
    rng = np.random.default_rng(0)
    det = KeyframeDetections(
        frame_index=0, timestamp=0., bboxes=np.array([[10, 20, 90, 110], [120, 5, 200, 100]],
                                                    np.float32),
        person_scores=np.array([0.9, 0.8], np.float32),
        action_scores=rng.random((2, 6)).astype(np.float32), class_ids=list(range(1, 7)),
        class_names=[f'action {i}' for i in range(1, 7)], image_size=(120, 210))
    frames = [rng.integers(0, 256, (120, 210, 3), dtype=np.uint8) for _ in range(3)]
    drawn = inferencer.visualize(frames, [det] * 3, action_thr=0.3)
    for frame, ours in zip(frames, drawn):
        direct = inferencer.visualizer.draw_actor_detections(
            frame, det.bboxes, det.action_scores, det.class_names, det.person_scores,
            action_thr=0.3)
        assert (ours != frame).mean() > 0.05  # something was drawn
        assert np.abs(ours.astype(int) - direct.astype(int)).max() <= 2
    # a person below person_thr is not drawn
    only_first = inferencer.visualize(frames[:1], [det], action_thr=0.3, person_thr=0.85)[0]
    right = (slice(0, 120), slice(150, 210))
    assert np.array_equal(only_first[right], frames[0][right])


def test_video_loop_on_a_frame_stream(inferencer, tmp_path):
    """An iterator of unknown length (as a camera): every frame is written once, drawn with
    its keyframe's detections, while only a bounded number of frames wait."""
    fps, total = 10, 80
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (total, 72, 96, 3), dtype=np.uint8)
    out_video, out_json = tmp_path / 'out.mp4', tmp_path / 'out.json'
    result = inferencer(iter(frames), out_video=str(out_video), out_json=str(out_json), fps=fps,
                        action_thr=0.3)
    assert result['num_frames'] == total
    assert result['num_keyframes'] == 8  # keyframes 5, 15, ..., 75
    # frames wait for at most one interval plus the clip's second half
    after = inferencer.pipeline.frames_after
    assert result['max_pending_frames'] <= fps + after + 1 < total
    reader = mmcv.VideoReader(str(out_video))
    assert (reader.height, reader.width) == (72, 96) and len(list(reader)) == total

    saved = json.load(open(out_json))
    assert [p['frame_index'] for p in saved['predictions']] == [5 + 10 * j for j in range(8)]
    assert saved['classes']['12'] == 'stand' and saved['fps'] == fps
    reference = detect_video(inferencer.model, frames, fps=fps, progress=False)
    for pred, ref in zip(saved['predictions'], reference):
        kept = ref.person_scores >= inferencer.model.person_score_thr
        assert len(pred['persons']) == kept.sum()
        np.testing.assert_allclose([p['bbox'] for p in pred['persons']], ref.bboxes[kept],
                                   atol=0.01)
        for person in pred['persons']:
            assert all(a['score'] >= 0.3 for a in person['actions'])
            scores = [a['score'] for a in person['actions']]
            assert scores == sorted(scores, reverse=True)


def test_max_frames_stops_a_stream(inferencer, tmp_path):
    frames = (np.zeros((40, 40, 3), np.uint8) for _ in range(10**6))  # "endless"
    result = inferencer(frames, out_video=str(tmp_path / 'o.mp4'), fps=10, max_frames=25)
    assert result['num_frames'] == 25 and result['num_keyframes'] == 2  # frames 5, 15


class _OffCPUTensor(torch.Tensor):
    """Stands for a tensor on a GPU (this machine has none): numpy refuses it until ``.cpu()``
    brings it back, as it refuses a CUDA tensor."""

    def __array__(self, *args, **kwargs):
        raise TypeError("can't convert cuda:0 device type tensor to numpy")

    def numpy(self, *args, **kwargs):
        raise TypeError("can't convert cuda:0 device type tensor to numpy")

    def cpu(self, *args, **kwargs):
        return self.as_subclass(torch.Tensor).clone()


def test_kept_token_view_reads_the_model_buffers_back_to_the_cpu(inferencer, monkeypatch):
    """The kept-token view pads with the data preprocessor's mean, a buffer on the model's
    device: on a GPU it must come back to the CPU before numpy reads it."""
    frames = np.random.default_rng(2).integers(0, 256, (30, 72, 96, 3), dtype=np.uint8)
    det = next(iter_video_detections(inferencer.model, open_video(frames, fps=10),
                                     with_token_pruning=True))
    on_cpu = inferencer.draw_kept_tokens(det)
    mean = inferencer.model.data_preprocessor.mean
    off_cpu = mean.detach().clone().as_subclass(_OffCPUTensor)
    with pytest.raises(TypeError):
        np.asarray(off_cpu)  # the stand-in refuses numpy as a CUDA tensor does
    monkeypatch.setattr(inferencer.model.data_preprocessor, 'mean', off_cpu)
    np.testing.assert_array_equal(inferencer.draw_kept_tokens(det), on_cpu)
