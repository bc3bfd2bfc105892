"""tools/demo/demo_video.py end to end: the real clips (random weights) and a synthetic video
(a tiny model trained in the session) whose persons the demo's boxes must find."""
import json
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmevad.apis import KeyframeClipPipeline, KeyframeStream, init_detector
from mmevad.datasets.synthetic_ava.motion import simulate_figure
from mmevad.datasets.synthetic_ava.scene import (FPS, SceneConfig, frame_index,
                                                 keyframe_timestamps, sample_scene)
from .conftest import EVAD_TINY, ROOT, run_tool

CLIPS = [osp.join(ROOT, '..', 'shared', 'data', name)
         for name in ('two_players_basketball.mp4', 'arm_wrestling.mp4')]


@pytest.fixture(scope='module')
def random_checkpoint(tmp_path_factory):
    """The tiny config's random initial weights as a checkpoint file."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp('random_tiny') / 'random_tiny.pth'
    torch.save(dict(state_dict=init_detector(EVAD_TINY).state_dict()), path)
    return path


def read_video(path):
    reader = mmcv.VideoReader(str(path))
    frames = list(reader)
    return frames, reader.fps


@pytest.mark.parametrize('clip', CLIPS, ids=osp.basename)
def test_demo_runs_on_the_real_clips(clip, random_checkpoint, tmp_path):
    if not osp.isfile(clip):
        pytest.skip(f'{clip} is not available')
    out = tmp_path / 'out.mp4'
    log = run_tool('demo/demo_video.py', EVAD_TINY, random_checkpoint, clip, out,
                   '--show-kept-tokens', '--device', 'cpu', cwd=tmp_path)
    assert 'keyframes/s' in log
    frames_in, fps = read_video(clip)
    frames_out, fps_out = read_video(out)
    assert len(frames_out) == len(frames_in)
    assert frames_out[0].shape == frames_in[0].shape
    assert fps_out == pytest.approx(fps, rel=1e-3)

    saved = json.load(open(tmp_path / 'out.json'))
    stream = KeyframeStream(KeyframeClipPipeline(Config.fromfile(EVAD_TINY)), fps)
    expected_keys = [stream.keyframe(j) for j in range(stream.num_keyframes(len(frames_in)))]
    assert [p['frame_index'] for p in saved['predictions']] == expected_keys
    assert saved['num_frames'] == len(frames_in)
    h, w = frames_in[0].shape[:2]
    for pred in saved['predictions']:
        assert pred['timestamp'] == pytest.approx(pred['frame_index'] / fps, abs=1e-3)
        for person in pred['persons']:
            x1, y1, x2, y2 = person['bbox']
            assert -1 <= x1 <= x2 <= w + 1 and -1 <= y1 <= y2 <= h + 1
    kept = sorted((tmp_path / 'out_kept_tokens').glob('keyframe_*.png'))
    assert len(kept) == len(expected_keys)


def generated_person_boxes(data, video_index=0, split_code=0):
    """Pixel boxes of the generated figures of a synthetic video at every frame, clipped to
    the frame: the scene the generator drew for it (same seed), simulated again.
    ``(F, P, 4)``."""
    meta = json.load(open(osp.join(data.root, 'synthetic_ava.json')))
    video_id = (data.train_video_ids if split_code == 0 else data.val_video_ids)[video_index]
    scene = sample_scene(
        np.random.default_rng([meta['seed'], split_code, video_index, 0]), video_id,
        meta['height'], meta['width'], meta['seconds'], SceneConfig(**meta['scene_config']))
    tracks = [simulate_figure(f, scene.seconds, scene.width) for f in scene.figures]
    boxes = np.stack([t.boxes for t in tracks], axis=1)
    # inside the frame, as the annotations and EVAD's boxes are
    size = [meta['width'], meta['height']] * 2
    return video_id, np.clip(boxes, 0, size)


def iou(a, b):
    """``(N, M)`` IoU of xyxy boxes."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area = lambda x: np.prod(x[:, 2:] - x[:, :2], axis=1)  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None] - inter)


def test_demo_boxes_find_the_generated_persons(trained_tiny_evad, tmp_path):
    """On the synthetic video it was trained on, the trained tiny model's demo boxes overlap
    the generated figures (IoU >= 0.5) at most keyframes: the demo shows what the model
    sees, in pixels of the video (the demo's keyframes are not the annotated ones)."""
    data = trained_tiny_evad['data']
    video_id, boxes = generated_person_boxes(data)
    height, width = 96, 128
    # the reconstruction is the generator's: it matches the annotations at the keyframes
    annotated = {}
    with open(data.ann_file_train) as f:
        for row in f:
            v, ts, *box = row.strip().split(',')[:6]
            annotated.setdefault(int(ts), set()).add(tuple(float(x) for x in box))
    for ts in keyframe_timestamps(4):
        if ts in annotated:
            gt = np.array(sorted(annotated[ts])) * [width, height, width, height]
            assert iou(gt, boxes[frame_index(ts)]).max(1).min() > 0.95

    frame_dir = osp.join(data.data_root, video_id)
    video = tmp_path / 'synthetic.mp4'
    mmcv.frames2video(frame_dir, str(video), fps=FPS, fourcc='mp4v',
                      filename_tmpl='img_{:05d}.jpg', start=1, end=len(boxes) + 1,
                      show_progress=False)
    out = tmp_path / 'demo.mp4'
    run_tool('demo/demo_video.py', EVAD_TINY, trained_tiny_evad['checkpoint'], video, out,
             '--action-thr', '0.3', cwd=tmp_path)
    saved = json.load(open(tmp_path / 'demo.json'))
    assert len(saved['predictions']) == 6  # frames 15, 45, ..., 165 of 181
    found = []
    for pred in saved['predictions']:
        persons = boxes[pred['frame_index']]
        detected = np.array([p['bbox'] for p in pred['persons']]).reshape(-1, 4)
        best = iou(persons, detected).max(1) if len(detected) else np.zeros(len(persons))
        found.extend(best >= 0.5)
    assert np.mean(found) >= 0.7, f'{np.mean(found):.2f} of the figures found'
