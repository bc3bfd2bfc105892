"""mmevad.apis: clips sampled as the test pipeline samples them, pixel boxes, the tools/test.py
scores, streaming over a video, strict checkpoint loading."""
import glob
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
from _utils import EVAD_TINY, ROOT
from mmaction.datasets import AVADataset
from mmaction.registry import TRANSFORMS
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.structures import InstanceData

from mmevad.apis import (KeyframeClipPipeline, KeyframeStream, detect_clip, detect_video,
                         init_detector)
from mmevad.datasets.label_maps import load_label_map
from mmevad.utils import CheckpointMismatchError

# the quickstart config: 4 frames at stride 8, short side 96, patch 8
TINY = EVAD_TINY
# the 8-frame config (8 frames at stride 4): a different clip to sample
TINY_8F = osp.join(ROOT, 'configs', 'evad',
                   'evad_vit-tiny-p16-ktp0.7_scratch_1xb8-8x4x1-2600it_synthetic-ava-rgb.py')


@pytest.fixture(scope='module')
def tiny_model():
    torch.manual_seed(0)
    return init_detector(TINY)


def index_video(num_frames, height=60, width=80):
    """Frames that encode their own index: red = index % 256, green = index // 256."""
    frames = np.zeros((num_frames, height, width, 3), np.uint8)
    frames[..., 0] = (np.arange(num_frames) % 256)[:, None, None]
    frames[..., 1] = (np.arange(num_frames) // 256)[:, None, None]
    return frames


def decoded_indices(packed):
    """Frame indices of a packed (3, T, H, W) clip of :func:`index_video` frames."""
    clip = packed['inputs'].long()
    red, green = clip[0, :, 0, 0], clip[1, :, 0, 0]
    assert (clip[0] == red[:, None, None]).all(), 'a resized frame is no longer constant'
    return (green * 256 + red).tolist()


def config_sampler(cfg):
    """The AVA sampler of a config's test pipeline, built from its registered class."""
    (sampler_cfg, ) = [t for t in cfg.test_dataloader.dataset.pipeline if 'SampleAVA' in t['type']]
    return TRANSFORMS.build(sampler_cfg)


def ava_keyframe_index(sampler, timestamp):
    """The 0-based frame the AVA dataset centres an annotated second on with this sampler (fps
    30, start 900 s, 1-based files, as AVADataset passes them): the file
    ``img_{30 * (timestamp - 900) + 1:05d}.jpg`` for mmevad's SampleAVAKeyframeClip, one frame
    later for mmaction2's SampleAVAFrames (which adds ``start_index`` twice)."""
    inds = sampler(dict(fps=30, timestamp=timestamp, timestamp_start=900, start_index=1,
                        shot_info=(0, 10**6)))['frame_inds']
    return int(inds[sampler.clip_len // 2]) - 1  # 1-based file number -> array index


@pytest.mark.parametrize('config', [TINY, TINY_8F])
def test_clip_is_the_test_pipelines_at_start_middle_and_end(config):
    """Sampling around a keyframe of in-memory frames reads the frames the config's
    AVA sampler reads for an AVA timestamp (fps 30, start 900 s, 1-based files, as
    AVADataset passes them), edge frames repeated, at the start, middle and end of a video."""
    cfg = Config.fromfile(config)
    pipeline = KeyframeClipPipeline(cfg)
    sampler = config_sampler(cfg)
    seconds = 6
    total = 30 * seconds + 2
    frames = index_video(total)
    for second in (0, 3, seconds):  # start, middle, end
        ava = sampler(dict(fps=30, timestamp=900 + second, timestamp_start=900, start_index=1,
                           shot_info=(0, total)))
        expected = (ava['frame_inds'] - 1).tolist()  # 1-based file numbers -> array index
        key = ava_keyframe_index(sampler, 900 + second)
        assert decoded_indices(pipeline(frames, key)) == expected
        assert len(expected) == pipeline.clip_len
    # the edges are really repeated (not a vacuous comparison)
    first = decoded_indices(pipeline(frames, 0))
    assert first[:pipeline.clip_len // 2 + 1] == [0] * (pipeline.clip_len // 2 + 1)
    assert decoded_indices(pipeline(frames, total - 1)).count(total - 1) > 1
    middle = decoded_indices(pipeline(frames, 90))
    assert middle == list(range(90 - pipeline.frames_before, 90 + pipeline.frames_after + 1,
                                pipeline.frame_interval))


def test_pipeline_resizes_as_the_config(tiny_model):
    """Frames of any size come out at the config's short side (96) with their aspect ratio."""
    pipeline = KeyframeClipPipeline(tiny_model.cfg)
    for (h, w), (eh, ew) in (((120, 200), (96, 160)), ((256, 96), (256, 96))):
        packed = pipeline(index_video(20, h, w), 10)
        assert tuple(packed['inputs'].shape[-2:]) == (eh, ew)
        assert tuple(packed['data_samples'].metainfo['img_shape']) == (eh, ew)


class FixedProposals:
    """A localization head whose proposals are fixed fractions of the resized frame."""

    def __init__(self, fractions, scores):
        self.fractions = torch.tensor(fractions, dtype=torch.float32)
        self.scores = torch.tensor(scores, dtype=torch.float32)

    def __call__(self, fpn_feats, data_samples):
        results = []
        for sample in data_samples:
            h, w = sample.metainfo['img_shape'][:2]
            results.append(InstanceData(
                bboxes=self.fractions * self.fractions.new_tensor([w, h, w, h]),
                scores=self.scores.clone()))
        return results


def test_boxes_are_pixels_of_the_given_frames(tiny_model, monkeypatch):
    """With known proposals, the boxes come back at the same fractions of frames of two sizes
    and aspect ratios, with the proposals' person scores."""
    fractions = [[0.1, 0.2, 0.4, 0.9], [0.6, 0.05, 0.95, 0.5]]
    monkeypatch.setattr(tiny_model.localization_head, 'predict',
                        FixedProposals(fractions, [0.9, 0.8]))
    for h, w in ((120, 200), (250, 90)):
        result = detect_clip(tiny_model, index_video(30, h, w) * 3)
        assert result.image_size == (h, w)
        order = np.argsort(-result.person_scores)
        expected = np.array(fractions) * [w, h, w, h]
        np.testing.assert_allclose(result.bboxes[order], expected, atol=1e-3 * max(h, w))
        np.testing.assert_allclose(result.person_scores[order], [0.9, 0.8], atol=1e-6)
        assert result.action_scores.shape == (2, 60)  # the 60 evaluated AVA classes
        assert result.class_names[result.class_ids.index(12)] == 'stand'


def test_detect_clip_equals_test_step_on_the_dataset_sample(synthetic_ava, tiny_model):
    """The frames of a validation video in memory give the clip and the scores of
    tools/test.py's path: the AVA dataset sample through the config's test pipeline and
    model.test_step."""
    cfg = tiny_model.cfg
    dataset = AVADataset(
        ann_file=synthetic_ava.ann_file_val, exclude_file=synthetic_ava.exclude_file_val,
        label_file=synthetic_ava.label_file, data_prefix=dict(img=synthetic_ava.data_root),
        pipeline=cfg.test_dataloader.dataset.pipeline, test_mode=True)
    sample = dataset[0]
    video = sample['data_samples'].metainfo['video_id']
    timestamp = sample['data_samples'].metainfo['timestamp']
    files = sorted(glob.glob(osp.join(synthetic_ava.data_root, video, 'img_*.jpg')))
    frames = np.stack([mmcv.imread(f, channel_order='rgb') for f in files])
    key = ava_keyframe_index(config_sampler(cfg), timestamp)
    packed = KeyframeClipPipeline(cfg)(frames, key)
    assert torch.equal(packed['inputs'], sample['inputs'])

    with torch.no_grad():
        (pred, ) = tiny_model.test_step(pseudo_collate([sample]))
    result = detect_clip(tiny_model, frames, key)
    h, w = frames.shape[1:3]
    assert len(result) == len(pred.pred_instances) > 0
    np.testing.assert_allclose(result.bboxes / [w, h, w, h], pred.pred_instances.bboxes.numpy(),
                               atol=1e-6)
    np.testing.assert_allclose(result.action_scores,
                               pred.pred_instances.scores.numpy()[:, result.class_ids],
                               atol=1e-6)


def test_detect_video_streams_the_clips_of_detect_clip(tiny_model):
    """Each keyframe of detect_video (bounded buffer, batches) gives detect_clip's result on
    the whole video, up to the last keyframe whose clip runs past the end."""
    fps, total = 10, 47
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (total, 64, 88, 3), dtype=np.uint8)
    results = detect_video(tiny_model, frames, keyframe_interval_s=0.9, batch_size=3,
                           progress=False, fps=fps)
    keys = [r.frame_index for r in results]
    assert keys == [int(round((j + 0.5) * 9)) for j in range(5)]  # 4, 14, 22, 32, 40 (< 47)
    assert keys[-1] + KeyframeClipPipeline(tiny_model.cfg).frames_after >= total
    for r in results:
        # batched matrix products differ from single ones in the last float bits
        single = detect_clip(tiny_model, frames, r.frame_index)
        np.testing.assert_allclose(r.bboxes, single.bboxes, atol=1e-2)
        np.testing.assert_allclose(r.action_scores, single.action_scores, atol=1e-4)
        assert r.timestamp == pytest.approx(r.frame_index / fps)
    # a list of frames and an iterator read the same way
    again = detect_video(tiny_model, iter(list(frames)), 0.9, batch_size=1, progress=False,
                         fps=fps)
    assert [r.frame_index for r in again] == keys


def test_stream_buffer_is_bounded(tiny_model):
    pipeline = KeyframeClipPipeline(tiny_model.cfg)
    stream = KeyframeStream(pipeline, fps=30, keyframe_interval_s=1.)
    frames = (np.full((16, 16, 3), i % 256, np.uint8) for i in range(600))
    keys = [key for key, _ in stream(frames)]
    assert keys == [15 + 30 * j for j in range(20)]
    window = pipeline.frames_before + pipeline.frames_after + 1
    assert stream.max_buffered <= window + 30


def test_inputs_are_checked(tiny_model):
    with pytest.raises(ValueError, match='RGB'):
        detect_clip(tiny_model, np.zeros((4, 32, 32), np.uint8))
    with pytest.raises(TypeError, match='uint8'):
        detect_clip(tiny_model, np.zeros((4, 32, 32, 3), np.float32))
    with pytest.raises(IndexError, match='outside'):
        detect_clip(tiny_model, np.zeros((4, 32, 32, 3), np.uint8), keyframe_index=4)
    with pytest.raises(ValueError, match='fps'):
        detect_video(tiny_model, np.zeros((4, 32, 32, 3), np.uint8), progress=False)
    with pytest.raises(FileNotFoundError, match='does not exist'):
        detect_video(tiny_model, 'no_such_video.mp4', progress=False)


def test_label_map_picks_the_reported_classes(tiny_model):
    five = load_label_map(None)
    assert len(five.names) == 80 and len(five.evaluated) == 60
    result = detect_clip(tiny_model, index_video(12, 40, 40),
                         label_map=osp.join(ROOT, 'mmevad', 'datasets', 'label_maps',
                                            'ava_action_list_v2.2_for_activitynet_2019.pbtxt'))
    assert result.action_scores.shape[1] == 60


def test_init_detector_loads_strictly(tiny_model, tmp_path):
    state = {k: v.clone() for k, v in tiny_model.state_dict().items()}
    good = tmp_path / 'good.pth'
    torch.save(dict(state_dict=state), good)
    model = init_detector(TINY, str(good))
    assert not model.training
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key

    missing_key = 'roi_head.decoder.action_heads.1.fc_cls.bias'
    broken = dict(state)
    del broken[missing_key]
    broken['roi_head.extra_layer.weight'] = torch.zeros(3)
    bad = tmp_path / 'bad.pth'
    torch.save(dict(state_dict=broken), bad)
    with pytest.raises(CheckpointMismatchError) as error:
        init_detector(TINY, str(bad))
    assert missing_key in str(error.value)
    assert 'roi_head.extra_layer.weight' in str(error.value)


def test_init_detector_cfg_options_and_errors():
    model = init_detector(TINY, cfg_options={'model.person_score_thr': 0.25})
    assert model.person_score_thr == 0.25
    with pytest.raises(TypeError, match='Config'):
        init_detector(42)
