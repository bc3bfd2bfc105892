import math

import pytest
import torch
import torch.nn.functional as F
from mmaction.models.backbones.vit_mae import VisionTransformer, get_sinusoid_encoding
from _utils import TINY_TPVIT as TINY
from mmaction.registry import OPTIM_WRAPPER_CONSTRUCTORS

from mmevad.models import TokenPruningViT, pruning_schedule
from mmevad.structures import TokenPruningOutput

# TINY: 8 frames of 64x64 -> grid (4, 4, 4), Nk = 16, N0 = 64


def _model(seed=0, **kwargs):
    """A tiny backbone with weights large enough that attention is far from uniform."""
    torch.manual_seed(seed)
    model = TokenPruningViT(**{**TINY, **kwargs})
    with torch.no_grad():
        for name, param in model.named_parameters():
            if 'norm' in name and name.endswith('weight'):
                param.uniform_(0.5, 1.5)
            else:
                param.normal_(0., 0.3 if param.ndim > 1 else 0.1)
    return model


def _clip(batch=2, frames=8, height=64, width=64, seed=1, dtype=torch.float32):
    torch.manual_seed(seed)
    return torch.randn(batch, 3, frames, height, width, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# naive reference: docs/algorithm.md#backbone written out with explicit attention matrices and
# Python loops
# ---------------------------------------------------------------------------------------------
def _layer_norm(x, norm):
    mean = x.mean(-1, keepdim=True)
    var = (x - mean).square().mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + 1e-6) * norm.weight + norm.bias


def _naive_forward(model, clip, keep_rates, enhanced_weight, taps):
    """One sample at a time. Returns per sample (taps (Nk, C) list, tokens, kept global idx)."""
    conv = model.patch_embed.projection
    feats = F.conv3d(clip, conv.weight, conv.bias, stride=conv.stride)  # (B, C, t, h, w)
    _, channels, t, h, w = feats.shape
    g = model.pos_grid[1]
    table = get_sinusoid_encoding(t * g * g, channels).to(clip.dtype)
    table = table.reshape(t, g, g, channels).permute(0, 3, 1, 2)
    table = F.interpolate(table, size=(h, w), mode='bicubic', align_corners=False)
    grid_tokens = feats.permute(0, 2, 3, 4, 1) + table.permute(0, 2, 3, 1)  # (B, t, h, w, C)
    num_key = h * w
    heads = model.blocks[0].attn.num_heads
    head_dims = channels // heads
    results = []
    for sample in grid_tokens:
        key = t // 2
        slots = [key] + [s for s in range(t) if s != key]
        seq = torch.cat([sample[s].reshape(num_key, channels) for s in slots])
        gidx = list(range((t - 1) * num_key))
        tapped = []
        for i, blk in enumerate(model.blocks):
            attn = blk.attn
            y = _layer_norm(seq, blk.norm1)
            qkv = y @ attn.qkv.weight.T + torch.cat(
                [attn.q_bias, torch.zeros_like(attn.q_bias), attn.v_bias])
            q, k, v = qkv.split(channels, dim=-1)
            n = seq.shape[0]
            out = torch.zeros(n, channels, dtype=seq.dtype)
            maps = []
            for head in range(heads):
                cols = slice(head * head_dims, (head + 1) * head_dims)
                logits = (q[:, cols] * head_dims**-0.5) @ k[:, cols].T
                expo = torch.exp(logits - logits.max(dim=1, keepdim=True).values)
                probs = expo / expo.sum(dim=1, keepdim=True)
                maps.append(probs)
                out[:, cols] = probs @ v[:, cols]
            seq = seq + out @ attn.proj.weight.T + attn.proj.bias
            total = math.ceil(keep_rates[i] * n)
            if total < n:
                scores = []
                for j in range(num_key, n):
                    per_head = []
                    for probs in maps:
                        column = probs[:, j]
                        weighted = enhanced_weight * column[:num_key].sum() + column[num_key:].sum()
                        per_head.append(weighted / n)  # mean over all n queries
                    scores.append(sum(per_head) / heads)  # then over heads
                ranked = sorted(range(len(scores)), key=lambda j: -float(scores[j]))
                ranked = ranked[:total - num_key]  # descending score order
                seq = torch.cat([seq[:num_key], seq[num_key:][ranked]])
                gidx = [gidx[j] for j in ranked]
            fc1, fc2 = blk.mlp.layers[0][0], blk.mlp.layers[1]
            hidden = F.gelu(_layer_norm(seq, blk.norm2) @ fc1.weight.T + fc1.bias)
            seq = seq + hidden @ fc2.weight.T + fc2.bias
            if i in taps:
                tapped.append(seq[:num_key])
        results.append((tapped, _layer_norm(seq, model.norm), torch.tensor(gidx)))
    return results, (t, h, w)


@pytest.mark.parametrize('enhanced_weight', [1., 4.])
def test_pruning_matches_naive_reference(enhanced_weight):
    keep_rates = (1., 0.7, 1., 0.6)
    model = _model(keep_rates=keep_rates, enhanced_weight=enhanced_weight).double().eval()
    clip = _clip(height=64, width=80, dtype=torch.float64)  # grid (4, 4, 5): Nk = 20, N0 = 80
    with torch.no_grad():
        out = model(clip)
        expected, grid = _naive_forward(model, clip, keep_rates, enhanced_weight,
                                        TINY['feature_taps'])
    assert isinstance(out, TokenPruningOutput)
    assert out.grid == grid == (4, 4, 5)
    for b, (taps, tokens, gidx) in enumerate(expected):
        assert out.tokens.shape == (2, ) + tokens.shape
        torch.testing.assert_close(out.tokens[b], tokens, rtol=1e-9, atol=1e-9)
        assert out.kept_index[b].tolist() == gidx.tolist()
        for level, (feat, tap) in enumerate(zip(out.keyframe_feats, taps)):
            keyframe_map = tap.T.reshape(-1, 4, 5)
            scale = (4, 2, 1, .5)[level]
            expected_map = F.interpolate(keyframe_map[None], scale_factor=scale)[0]
            torch.testing.assert_close(feat[b], expected_map, rtol=1e-9, atol=1e-9)


# ---------------------------------------------------------------------------------------------
# equivalence with mmaction2's VisionTransformer and its checkpoints
# ---------------------------------------------------------------------------------------------
def _mmaction_vit(model):
    kwargs = {k: v for k, v in TINY.items() if k not in ('feature_taps', 'keep_rates')}
    vit = VisionTransformer(**kwargs, use_mean_pooling=False, return_feat_map=True)
    vit.load_state_dict({**model.state_dict(), 'pos_embed': vit.pos_embed})
    return vit.eval()


@pytest.mark.parametrize('width', [64, 96])  # 96: the position table is interpolated
def test_dense_output_equals_mmaction_vit_without_pruning(width):
    model = _model(out_type='dense').eval()
    vit = _mmaction_vit(model)
    clip = _clip(width=width)
    with torch.no_grad():
        dense = model(clip)
        expected = vit(clip)
    assert dense.shape == expected.shape == (2, 32, 4, 4, width // 16)
    torch.testing.assert_close(dense, expected, rtol=1e-5, atol=1e-5)


def test_mmaction_checkpoint_loads_strictly_and_its_pos_embed_is_dropped():
    source = _model(out_type='dense')
    vit = _mmaction_vit(source)
    state = vit.state_dict()
    assert 'pos_embed' in state  # mmaction2 saves its sinusoid table
    model = TokenPruningViT(**TINY, out_type='dense')
    model.load_state_dict(state, strict=True)
    assert 'pos_embed' not in model.state_dict()
    torch.testing.assert_close(model.pos_embed, vit.pos_embed)
    clip = _clip()
    with torch.no_grad():
        torch.testing.assert_close(model(clip), vit(clip), rtol=1e-5, atol=1e-5)
    # the mmengine loader used by init_cfg=Pretrained goes through the same hook
    from mmengine.runner.checkpoint import load_state_dict
    model = TokenPruningViT(**TINY, out_type='dense')
    load_state_dict(model, state, strict=True)


def test_learned_pos_embed_in_checkpoint_is_refused():
    state = _mmaction_vit(_model()).state_dict()
    state['pos_embed'] = torch.randn_like(state['pos_embed'])
    with pytest.raises(ValueError, match='pos_embed .* not the fixed sinusoid table'):
        TokenPruningViT(**TINY).load_state_dict(state)


# ---------------------------------------------------------------------------------------------
# outputs, ordering and bookkeeping
# ---------------------------------------------------------------------------------------------
def test_evad_output_shapes():
    model = _model(keep_rates=(1., .7, 1., .7)).eval()
    with torch.no_grad():
        out = model(_clip(width=128))  # grid (4, 4, 8), Nk = 32, N0 = 128
    assert out.grid == (4, 4, 8)
    counts = pruning_schedule(128, 32, (1., .7, 1., .7))
    assert counts == [128, 90, 90, 63]
    assert out.tokens.shape == (2, 63, 32)
    assert out.kept_index.shape == (2, 63 - 32)
    assert out.kept_index.dtype == torch.long
    assert [tuple(f.shape) for f in out.keyframe_feats] == [(2, 32, 16, 32), (2, 32, 8, 16),
                                                            (2, 32, 4, 8), (2, 32, 2, 4)]


def test_feature_maps_keep_fpn_strides_for_other_patch_sizes():
    # patch 8: the tapped keyframe tokens lie on a stride-8 grid; the maps are still at
    # strides 4/8/16/32, each the nearest resampling of its tap
    model = _model(patch_size=8).eval()
    native = _model(patch_size=8, feature_strides=(8, 8, 8, 8)).eval()  # same weights
    with torch.no_grad():
        out = model(_clip(width=128))  # grid (4, 8, 16), Nk = 128
        taps = native(_clip(width=128)).keyframe_feats
    assert out.grid == (4, 8, 16)
    assert [tuple(f.shape) for f in out.keyframe_feats] == [(2, 32, 16, 32), (2, 32, 8, 16),
                                                            (2, 32, 4, 8), (2, 32, 2, 4)]
    assert torch.equal(out.keyframe_feats[0],
                       taps[0].repeat_interleave(2, 2).repeat_interleave(2, 3))
    assert torch.equal(out.keyframe_feats[1], taps[1])
    assert torch.equal(out.keyframe_feats[2], taps[2][..., ::2, ::2])
    assert torch.equal(out.keyframe_feats[3], taps[3][..., ::4, ::4])


def test_conv_stem_feeds_the_tubelet_embedding_on_the_same_token_grid():
    # two stride-2 conv+BN+ReLU layers on every frame, then a (2, 4, 4) tubelet convolution:
    # the token grid, the maps and their strides are those of the plain patch-16 backbone
    model = _model(stem_channels=(8, 12)).eval()
    plain = _model().eval()
    clip = _clip(width=128)
    with torch.no_grad():
        out, ref = model(clip), plain(clip)
        x = clip
        for layer in model.stem:
            conv, bn = layer.conv, layer.bn
            x = F.conv3d(x, conv.weight, conv.bias, stride=(1, 2, 2), padding=(0, 1, 1))
            x = F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, eps=bn.eps)
            x = x.clamp(min=0)
        projection = model.patch_embed.projection
        expected = F.conv3d(x, projection.weight, projection.bias, stride=(2, 4, 4))
        tokens, grid = model._patchify(clip)
    assert projection.kernel_size == (2, 4, 4) and projection.in_channels == 12
    assert grid == out.grid == ref.grid == (4, 4, 8)
    torch.testing.assert_close(tokens, expected.flatten(2).transpose(1, 2))
    assert [f.shape for f in out.keyframe_feats] == [f.shape for f in ref.keyframe_feats]
    assert out.tokens.shape == ref.tokens.shape
    # the stem trains, and its BN parameters take no weight decay
    model.train()
    _loss(model(clip)).backward()
    for name, param in model.stem.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, f'{name} got no gradient'
    assert {'stem.0.bn.weight', 'stem.1.bn.bias'} <= _no_weight_decay(model)
    assert 'stem.0.conv.weight' not in _no_weight_decay(model)


def test_without_stem_the_state_dict_is_videomae_s():
    assert not any(key.startswith('stem') for key in _model().state_dict())


def test_kept_index_unique_and_in_range():
    model = _model(keep_rates=(.8, .7, 1., .6)).eval()
    with torch.no_grad():
        out = model(_clip(batch=3))
    num_nonkey = 3 * 16  # (t - 1) * Nk
    for row in out.kept_index:
        assert len(set(row.tolist())) == len(row)
        assert 0 <= int(row.min()) and int(row.max()) < num_nonkey


def test_kept_tokens_come_in_selection_order():
    """The backbone returns the kept tokens in selection order (top-k of the last pruning
    block); the order on the grid is the RoI head's kept_token_order
    (docs/official_behaviours.md#d1)."""
    model = _model(keep_rates=(1., .7, 1., .6)).eval()
    with torch.no_grad():
        out = model(_clip())
    assert not torch.equal(out.kept_index, out.kept_index.sort(dim=1).values)


def test_backbone_kept_token_order_is_deprecated():
    # what old configs set: ignored with a warning naming the new place, same outputs
    with pytest.warns(FutureWarning, match=r'ContextRefinementRoIHead\(kept_token_order'):
        old = _model(keep_rates=(1., .7, 1., .6), kept_token_order='official').eval()
    new = _model(keep_rates=(1., .7, 1., .6)).eval()
    clip = _clip()
    with torch.no_grad():
        out_old, out_new = old(clip), new(clip)
    assert torch.equal(out_old.kept_index, out_new.kept_index)
    torch.testing.assert_close(out_old.tokens, out_new.tokens, rtol=0, atol=0)
    # ignoring 'sorted' would change the outputs: refused, naming the RoI head's option
    with pytest.raises(ValueError, match=r"RoI head's kept_token_order='sorted'"):
        _model(kept_token_order='sorted')


def test_dense_output_puts_tokens_at_their_positions():
    keep_rates = (1., .7, 1., .6)
    evad = _model(keep_rates=keep_rates).eval()
    dense_model = _model(keep_rates=keep_rates, out_type='dense').eval()
    clip = _clip()
    with torch.no_grad():
        out, dense = evad(clip), dense_model(clip)
    t, h, w = out.grid
    nk = h * w
    assert dense.shape == (2, 32, t, h, w)
    flat = dense.flatten(2).transpose(1, 2)  # (B, t*h*w, C) in input order
    kept = flat.abs().sum(-1) > 0
    assert kept.sum(1).tolist() == [out.tokens.shape[1]] * 2
    for b in range(2):
        # keyframe slot t // 2 holds the keyframe tokens in raster order
        torch.testing.assert_close(flat[b, 2 * nk:3 * nk], out.tokens[b, :nk])
        for token, g in zip(out.tokens[b, nk:], out.kept_index[b].tolist()):
            position = g if g < 2 * nk else g + nk  # docs/algorithm.md#keyframe-first
            torch.testing.assert_close(flat[b, position], token)


def test_keyframe_tokens_are_never_pruned():
    # budgets as tight as possible: one non-keyframe token survives each pruning block
    model = _model(keep_rates=(.27, 1., .9, 1.), out_type='dense').eval()
    with torch.no_grad():
        dense = model(_clip())
    keyframe_slot = dense[:, :, 2]  # t // 2 = 2
    assert (keyframe_slot.abs().sum(1) > 0).all()
    assert model.token_counts((4, 4, 4)) == [18, 18, 17, 17]


def test_budget_that_keeps_every_token_changes_nothing():
    """docs/official_behaviours.md#d13: ceil(r * N) == N is a no-op, also after an earlier real
    pruning block."""
    clip = _clip()
    reference = _model(keep_rates=(1., .7, 1., 1.)).eval()
    noop = _model(keep_rates=(.99, .7, .999, 1.)).eval()
    assert noop.token_counts((4, 4, 4)) == [64, 45, 45, 45]
    with torch.no_grad():
        out_ref, out_noop = reference(clip), noop(clip)
    assert torch.equal(out_ref.kept_index, out_noop.kept_index)
    torch.testing.assert_close(out_ref.tokens, out_noop.tokens, rtol=0, atol=0)


def test_no_pruning_keeps_identity_index():
    model = _model().eval()
    with torch.no_grad():
        out = model(_clip())
    assert torch.equal(out.kept_index, torch.arange(48).expand(2, -1))
    assert out.tokens.shape == (2, 64, 32)


# ---------------------------------------------------------------------------------------------
# token counts of the released schedules (docs/algorithm.md#keep-rate-schedules)
# ---------------------------------------------------------------------------------------------
VIT_B_BLOCKS, VIT_L_BLOCKS = (3, 6, 9), (6, 12, 18)


def _rates(depth, blocks, rate):
    return [rate if i in blocks else 1. for i in range(depth)]


@pytest.mark.parametrize('height, width, rate, after_pruning, kept_nonkey', [
    (288, 512, .7, [3226, 2259, 1582], 1006),
    (288, 512, .6, [2765, 1659, 996], 420),
    (288, 384, .7, [2420, 1694, 1186], 754),
    (288, 384, .6, [2074, 1245, 747], 315),
    (288, 288, .7, [1815, 1271, 890], 566),
    (288, 288, .6, [1556, 934, 561], 237),
])
def test_pruning_schedule_follows_spec_table(height, width, rate, after_pruning, kept_nonkey):
    h, w = height // 16, width // 16
    for depth, blocks in ((12, VIT_B_BLOCKS), (24, VIT_L_BLOCKS)):
        counts = pruning_schedule(8 * h * w, h * w, _rates(depth, blocks, rate))
        assert [counts[i] for i in blocks] == after_pruning
        assert counts[-1] - h * w == kept_nonkey


@pytest.mark.parametrize('height, width, rate, final', [(288, 512, .7, 1582),
                                                         (288, 288, .6, 561)])
def test_tiny_model_token_counts_at_released_resolutions(height, width, rate, final):
    model = TokenPruningViT(embed_dims=32, num_heads=2, keep_rates=_rates(12, VIT_B_BLOCKS, rate))
    with torch.no_grad():
        out = model(torch.randn(1, 3, 16, height, width))
    nk = (height // 16) * (width // 16)
    assert out.tokens.shape == (1, final, 32)
    assert out.kept_index.shape == (1, final - nk)
    assert len(set(out.kept_index[0].tolist())) == final - nk


# ---------------------------------------------------------------------------------------------
# gradients and checkpointing
# ---------------------------------------------------------------------------------------------
def _loss(out):
    return out.tokens.square().sum() + sum(f.square().sum() for f in out.keyframe_feats)


def test_every_parameter_gets_a_gradient():
    model = _model(keep_rates=(1., .7, 1., .6)).train()
    _loss(model(_clip())).backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, f'{name} got no gradient'
    assert model.patch_embed.projection.weight.grad.abs().sum() > 0


@pytest.mark.parametrize('drop_path_rate', [0., .3])
def test_with_cp_gives_identical_outputs_and_gradients(drop_path_rate):
    keep_rates = (1., .7, 1., .6)
    results = []
    for with_cp in (False, True):
        model = _model(keep_rates=keep_rates, with_cp=with_cp,
                       drop_path_rate=drop_path_rate).train()
        clip = _clip().requires_grad_()
        torch.manual_seed(5)  # same drop-path draws
        out = model(clip)
        _loss(out).backward()
        grads = {name: p.grad for name, p in model.named_parameters()}
        results.append((out, clip.grad, grads))
    (out, clip_grad, grads), (out_cp, clip_grad_cp, grads_cp) = results
    assert torch.equal(out.kept_index, out_cp.kept_index)
    torch.testing.assert_close(out.tokens, out_cp.tokens, rtol=0, atol=0)
    torch.testing.assert_close(clip_grad, clip_grad_cp, rtol=1e-5, atol=1e-6)
    for name in grads:
        torch.testing.assert_close(grads[name], grads_cp[name], rtol=1e-5, atol=1e-5,
                                   msg=f'gradient of {name} differs with with_cp')


def _no_weight_decay(model):
    """Names of ``model``'s parameters that EVAD's optimizer (``EVADOptimWrapperConstructor``,
    the one place that decides it) gives no weight decay."""
    constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(
        dict(type='EVADOptimWrapperConstructor',
             optim_wrapper_cfg=dict(optimizer=dict(type='AdamW', lr=1e-4, weight_decay=1e-4))))
    no_decay = {id(p) for group in constructor(model).optimizer.param_groups
                if group['weight_decay'] == 0 for p in group['params']}
    return {name for name, param in model.named_parameters() if id(param) in no_decay}


def test_no_weight_decay_lists_biases_and_1d_parameters():
    model = _model()
    names = _no_weight_decay(model)
    params = dict(model.named_parameters())
    assert {'blocks.0.attn.q_bias', 'blocks.0.attn.v_bias', 'blocks.3.norm2.weight',
            'norm.weight', 'norm.bias', 'patch_embed.projection.bias',
            'blocks.1.mlp.layers.0.0.bias', 'blocks.2.attn.proj.bias'} <= names
    assert names <= params.keys()
    assert all(params[name].ndim == 1 for name in names)
    decayed = params.keys() - names
    assert all(params[name].ndim > 1 for name in decayed)
    assert 'blocks.0.attn.qkv.weight' in decayed


# ---------------------------------------------------------------------------------------------
# errors a user can cause
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize('kwargs, match', [
    (dict(keep_rates=(1., ) * 3), 'keep_rates has 3 entries but depth is 4'),
    (dict(keep_rates=(1., 0., 1., 1.)), r'keep_rates must lie in \(0, 1\]'),
    (dict(keep_rates=(1., 1.2, 1., 1.)), r'keep_rates must lie in \(0, 1\]'),
    (dict(num_frames=6), 'even number of temporal slots'),
    (dict(num_frames=9), 'even number of temporal slots'),
    (dict(num_frames=0), 'even number of temporal slots'),
    (dict(feature_taps=(0, 1, 2)), 'feature_taps=.* must be 4 distinct increasing'),
    (dict(feature_taps=(0, 2, 1, 3)), 'feature_taps=.* must be 4 distinct increasing'),
    (dict(feature_taps=(0, 1, 1, 3)), 'feature_taps=.* must be 4 distinct increasing'),
    (dict(feature_taps=(0, 1, 2, 4)), r'block indices in \[0, 4\)'),
    (dict(feature_strides=(4, 8, 16)), r'feature_strides=\(4, 8, 16\) must be 4 strides'),
    (dict(feature_strides=(4, 8, 24, 32)), 'differ from patch_size=16 by a power of two'),
    (dict(feature_strides=(0, 8, 16, 32)), 'differ from patch_size=16 by a power of two'),
    (dict(stem_channels=(8, ) * 5), r'stem_channels=\(8, 8, 8, 8, 8\) must be positive widths'),
    (dict(stem_channels=(8, 0)), r'stem_channels=\(8, 0\) must be positive widths'),
    (dict(out_type='map'), "out_type='map' is not one of"),
    (dict(kept_token_order='random'), "kept_token_order='random' is not one of"),
    (dict(img_size=60), 'img_size=60 is not a multiple of patch_size=16'),
    (dict(enhanced_weight=-1.), 'enhanced_weight must be >= 0'),
])
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TokenPruningViT(**{**TINY, **kwargs})


@pytest.mark.parametrize('shape, match', [
    ((2, 3, 10, 64, 64), 'the clip has 10 frames but the backbone was built for num_frames=8'),
    ((2, 3, 8, 64, 72), 'not a multiple of patch_size=16'),
    ((2, 3, 8, 56, 64), 'not a multiple of patch_size=16'),
    ((2, 1, 8, 64, 64), r'expected a \(B, 3, T, H, W\) clip batch'),
    ((3, 8, 64, 64), r'expected a \(B, 3, T, H, W\) clip batch'),
])
def test_bad_inputs_raise(shape, match):
    with pytest.raises(ValueError, match=match):
        _model()(torch.randn(shape))


def test_budget_without_nonkeyframe_tokens_raises():
    model = _model(keep_rates=(1., .25, 1., 1.))  # ceil(.25 * 64) = 16 = Nk
    with pytest.raises(ValueError, match=r'keep_rates\[1\]=0.25 .* keyframe tokens alone'):
        model(_clip())
    with pytest.raises(ValueError, match='no non-keyframe token would survive'):
        pruning_schedule(2592, 324, [1., .1])


def test_registered_in_mmaction_models():
    from mmaction.registry import MODELS
    model = MODELS.build(dict(type='TokenPruningViT', **TINY))
    assert isinstance(model, TokenPruningViT)
