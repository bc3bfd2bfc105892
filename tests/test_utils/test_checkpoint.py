"""mmevad.utils.checkpoint: strict loading that names what does not fit and why."""
import pytest
import torch
from _utils import EVAD_TINY
from mmengine.config import Config

from mmevad.utils import CheckpointMismatchError, load_checkpoint_strictly



def build_tiny(**roi_head):
    from mmaction.registry import MODELS
    cfg = Config.fromfile(EVAD_TINY)
    cfg.model.roi_head.update(roi_head)
    return MODELS.build(cfg.model)


@pytest.fixture(scope='module')
def tiny_checkpoint(tmp_path_factory):
    """A Runner-style checkpoint of the tiny EVAD model (random weights)."""
    torch.manual_seed(0)
    model = build_tiny()
    path = tmp_path_factory.mktemp('ckpt') / 'tiny.pth'
    torch.save(dict(meta=dict(iter=3), state_dict=model.state_dict()), path)
    return path, model.state_dict()


def test_fitting_checkpoint_loads_every_weight(tiny_checkpoint):
    path, weights = tiny_checkpoint
    torch.manual_seed(1)
    model = build_tiny()
    checkpoint = load_checkpoint_strictly(model, str(path))
    assert checkpoint['meta'] == dict(iter=3)
    for key, value in model.state_dict().items():
        assert torch.equal(value, weights[key]), key


def test_missing_stage_is_named(tiny_checkpoint, tmp_path):
    _, weights = tiny_checkpoint
    partial = {k: v for k, v in weights.items()
               if not k.startswith('localization_head.bbox_head.2.')}
    dropped = len(weights) - len(partial)
    torch.save(dict(state_dict=partial), tmp_path / 'partial.pth')
    model = build_tiny()
    before = model.state_dict()['localization_head.bbox_head.1.fc_cls.weight'].clone()
    with pytest.raises(CheckpointMismatchError) as error:
        load_checkpoint_strictly(model, str(tmp_path / 'partial.pth'), hint='opt out: --x')
    message = str(error.value)
    assert f'{dropped} missing key(s)' in message
    assert 'localization_head.bbox_head.2.fc_cls.weight' in message
    assert 'localization_head.bbox_head.2.* ' in message  # the per-module count
    assert 'wrong' not in message and 'config does not match' in message
    assert message.endswith('opt out: --x')
    # nothing was loaded
    assert torch.equal(model.state_dict()['localization_head.bbox_head.1.fc_cls.weight'], before)


def test_class_count_mismatch_says_num_classes(tiny_checkpoint):
    path, _ = tiny_checkpoint
    model = build_tiny(num_classes=5)
    with pytest.raises(CheckpointMismatchError) as error:
        load_checkpoint_strictly(model, str(path))
    message = str(error.value)
    assert 'roi_head.decoder.action_heads.0.fc_cls.weight checkpoint [80, 128] vs model [5, 128]' \
        in message
    assert 'number of classes differs' in message and 'roi_head.num_classes=5' in message


def test_other_model_size_names_shapes_and_unexpected_keys(tiny_checkpoint):
    path, _ = tiny_checkpoint
    from mmaction.registry import MODELS
    cfg = Config.fromfile(EVAD_TINY)
    cfg.model.backbone.stem_channels = ()  # the p8 config without its convolutional stem
    cfg.model.backbone.embed_dims = 48
    with pytest.raises(CheckpointMismatchError) as error:
        load_checkpoint_strictly(MODELS.build(cfg.model), str(path))
    message = str(error.value)
    assert 'unexpected key(s)' in message and 'backbone.stem.0.conv.weight' in message
    assert 'shape mismatch' in message and 'backbone.patch_embed.projection.weight' in message


def test_unconverted_official_evad_file_points_at_converter(tmp_path):
    official = {'model_state': {'patch_embed.proj.weight': torch.zeros(96, 3, 2, 16, 16),
                                'det_head.mask_token': torch.zeros(1, 1, 384)}}
    torch.save(official, tmp_path / 'official.pth')
    with pytest.raises(CheckpointMismatchError, match='evad_official_to_mmevad.py'):
        load_checkpoint_strictly(build_tiny(), str(tmp_path / 'official.pth'))


def test_unconverted_videomae_file_points_at_converter(tmp_path):
    torch.save({'model': {'blocks.0.norm1.weight': torch.zeros(96)}}, tmp_path / 'mae.pth')
    with pytest.raises(CheckpointMismatchError, match='videomae_to_mmevad.py'):
        load_checkpoint_strictly(build_tiny(), str(tmp_path / 'mae.pth'))


def test_non_strict_loads_what_fits(tiny_checkpoint, tmp_path):
    _, weights = tiny_checkpoint
    partial = {k: v for k, v in weights.items() if not k.startswith('localization_head.')}
    torch.save(dict(state_dict=partial), tmp_path / 'partial.pth')
    model = build_tiny()
    load_checkpoint_strictly(model, str(tmp_path / 'partial.pth'), strict=False)
    assert torch.equal(model.state_dict()['backbone.norm.weight'], weights['backbone.norm.weight'])
