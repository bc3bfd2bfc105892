import pytest
import torch
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample


def make_batch():
    torch.manual_seed(0)
    clips = [torch.randint(0, 256, (3, 4, 40, 50), dtype=torch.uint8),
             torch.randint(0, 256, (3, 4, 64, 30), dtype=torch.uint8)]
    samples = [ActionDataSample(metainfo=dict(img_shape=(40, 50))),
               ActionDataSample(metainfo=dict(img_shape=(64, 30)))]
    return clips, samples


def test_normalises_then_pads_to_multiple_of_32():
    preprocessor = MODELS.build(dict(type='EVADDataPreprocessor'))
    clips, samples = make_batch()
    out = preprocessor(dict(inputs=clips, data_samples=samples))
    batch = out['inputs']
    assert batch.shape == (2, 3, 4, 64, 64)  # T untouched, H/W -> batch max rounded up to 32
    assert batch.dtype == torch.float32
    for i, clip in enumerate(clips):
        h, w = clip.shape[-2:]
        expected = (clip.float() - 114.75) / 57.375
        torch.testing.assert_close(batch[i, :, :, :h, :w], expected)
        # padding happens after normalisation: the padded area is exactly 0 (the mean colour)
        padded = torch.ones(64, 64, dtype=torch.bool)
        padded[:h, :w] = False
        assert padded.any() and batch[i][..., padded].abs().max() == 0
    # boxes stay in the unpadded frame
    assert [s.img_shape for s in out['data_samples']] == [(40, 50), (64, 30)]
    assert all(s.pad_shape == (64, 64) for s in out['data_samples'])


def test_differs_from_mmaction_padding_order():
    """mmaction's ActionDataPreprocessor pads raw pixels first (pad -> -mean/std)."""
    clips, samples = make_batch()
    ours = MODELS.build(dict(type='EVADDataPreprocessor'))(
        dict(inputs=clips, data_samples=samples))['inputs']
    theirs = MODELS.build(dict(type='ActionDataPreprocessor', mean=[114.75] * 3,
                               std=[57.375] * 3, format_shape='NCTHW'))(
        dict(inputs=clips, data_samples=samples))['inputs']
    assert theirs[0, :, :, 40:, :50].unique().item() == pytest.approx(-2.0)
    assert ours[0, :, :, 40:, :50].unique().item() == 0


def test_to_rgb_and_bad_shape():
    clips, samples = make_batch()
    rgb = MODELS.build(dict(type='EVADDataPreprocessor', mean=(1, 2, 3), std=(1, 1, 1)))
    bgr = MODELS.build(dict(type='EVADDataPreprocessor', mean=(1, 2, 3), std=(1, 1, 1),
                            to_rgb=True))
    a = rgb(dict(inputs=[c.flip(0) for c in clips], data_samples=samples))['inputs']
    b = bgr(dict(inputs=clips, data_samples=samples))['inputs']
    torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="FormatShape"):
        rgb(dict(inputs=[torch.zeros(4, 3, 8, 8)], data_samples=samples[:1]))


@pytest.mark.parametrize('std', [(0, 0, 0), (57.375, -1, 57.375), (float('nan'),) * 3])
def test_std_must_be_positive(std):
    with pytest.raises(ValueError, match='std=.* must be positive and finite'):
        MODELS.build(dict(type='EVADDataPreprocessor', std=std))


@pytest.mark.parametrize('divisor', [0, 2.5, True])
def test_pad_size_divisor_must_be_a_positive_int(divisor):
    with pytest.raises(ValueError, match='pad_size_divisor must be a positive int'):
        MODELS.build(dict(type='EVADDataPreprocessor', pad_size_divisor=divisor))


@pytest.mark.parametrize('training', [True, False])
@pytest.mark.parametrize('bad', [float('nan'), float('inf'), -float('inf')])
def test_non_finite_clip_is_refused_with_its_name(training, bad):
    clips, _ = make_batch()
    clips = [c.float() for c in clips] + [torch.zeros(3, 4, 8, 8)]
    clips[1][2, 3, 5, 7] = bad
    samples = [ActionDataSample(metainfo=dict(img_shape=c.shape[-2:], video_id=f'vid{i}',
                                              timestamp=902 + i)) for i, c in enumerate(clips)]
    preprocessor = MODELS.build(dict(type='EVADDataPreprocessor'))
    with pytest.raises(ValueError, match=r"clip 1 \(video_id='vid1', timestamp=903\): 1 NaN/Inf"
                       ) as info:
        preprocessor(dict(inputs=clips, data_samples=samples), training)
    assert 'vid0' not in str(info.value) and 'vid2' not in str(info.value)
    clips[1][2, 3, 5, 7] = 0.  # the same batch without the bad value passes
    out = preprocessor(dict(inputs=clips, data_samples=samples), training)
    assert torch.isfinite(out['inputs']).all()
