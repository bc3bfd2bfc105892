"""Token remapping (docs/algorithm.md#token-remapping, docs/official_behaviours.md#d1, #d4): where
every token and every mask token lands."""
import pytest
import torch

from mmevad.models.roi_heads import nonkey_to_flat_index, remap_tokens

MASK = -1.


def spec_flat_position(g, num_key, key_slot):
    """docs/algorithm.md#keyframe-first in its slot form: list slot s = g // Nk is real slot s (s <
    key slot) or s + 1."""
    slot, raster = divmod(int(g), num_key)
    if slot >= key_slot:
        slot += 1
    return slot * num_key + raster


def self_encoding_inputs(kept_index, grid):
    """Tokens whose channel 0 is their own flat position; the position table's channel 1 is the
    position it is added at. Mask token = (-1, 0)."""
    t, h, w = grid
    num_key = h * w
    key_slot = t // 2
    B = kept_index.shape[0]
    key = torch.arange(key_slot * num_key, (key_slot + 1) * num_key).expand(B, -1)
    kept = torch.tensor([[spec_flat_position(g, num_key, key_slot) for g in row]
                         for row in kept_index.tolist()]).reshape(B, -1)
    tokens = torch.zeros(B, num_key + kept_index.shape[1], 2)
    tokens[..., 0] = torch.cat((key, kept), dim=1).float()
    pos_embed = torch.zeros(1, t * h * w, 2)
    pos_embed[0, :, 1] = torch.arange(t * h * w).float()
    mask_token = torch.tensor([[[MASK, 0.]]])
    return tokens, mask_token, pos_embed


def test_nonkey_index_maps_like_the_slot_rule():
    num_key, key_slot, t = 6, 2, 5
    g = torch.arange((t - 1) * num_key)
    expected = torch.tensor([spec_flat_position(i, num_key, key_slot) for i in g])
    assert torch.equal(nonkey_to_flat_index(g, num_key, key_slot), expected)


def test_sorted_puts_every_token_at_its_own_position():
    torch.manual_seed(0)
    grid = (4, 3, 5)
    t, h, w = grid
    nonkey = (t - 1) * h * w
    # kept indices in an arbitrary ("score") order, different per sample
    kept_index = torch.stack([torch.randperm(nonkey)[:17] for _ in range(2)])
    tokens, mask_token, pos_embed = self_encoding_inputs(kept_index, grid)
    dense, context = remap_tokens(tokens, kept_index, grid, mask_token, pos_embed, 'sorted')

    assert dense.shape == (2, 2, t, h, w)
    position = torch.arange(t * h * w).reshape(t, h, w).float()
    for b in range(2):
        occupied = {spec_flat_position(g, h * w, t // 2) for g in kept_index[b].tolist()}
        occupied |= set(range((t // 2) * h * w, (t // 2 + 1) * h * w))
        is_token = torch.zeros(t * h * w, dtype=torch.bool)
        is_token[sorted(occupied)] = True
        is_token = is_token.reshape(t, h, w)
        # a token sits exactly where it says it belongs, a mask token everywhere else
        assert torch.equal(dense[b, 0][is_token], position[is_token])
        assert (dense[b, 0][~is_token] == MASK).all()
        # the position table is added at every (t, y, x)
        assert torch.equal(dense[b, 1], position)
    # decoder context: every token carries the embedding of its own position
    assert torch.equal(context[..., 0], context[..., 1])
    assert torch.equal(context[..., 0], tokens[..., 0])


def test_official_fills_kept_positions_in_ascending_order():
    """docs/official_behaviours.md#d1: the kept positions are filled in ascending order with the
    tokens in score order."""
    grid = (4, 1, 2)  # Nk = 2, keyframe slot 2 -> flat positions 4, 5
    kept_index = torch.tensor([[4, 0, 5]])  # score order; flat positions 6, 0, 7
    tokens, mask_token, pos_embed = self_encoding_inputs(kept_index, grid)
    assert tokens[0, :, 0].tolist() == [4, 5, 6, 0, 7]

    dense, context = remap_tokens(tokens, kept_index, grid, mask_token, pos_embed, 'official')

    # positions 0, 6, 7 (ascending) receive the tokens of 6, 0, 7 (score order)
    assert dense[0, 0].flatten().tolist() == [6, MASK, MASK, MASK, 4, 5, 0, 7]
    assert dense[0, 1].flatten().tolist() == list(range(8))
    # the decoder's position embedding is permuted the same way
    assert context[0, :, 0].tolist() == [4, 5, 6, 0, 7]
    assert context[0, :, 1].tolist() == [4, 5, 0, 6, 7]

    sorted_dense, _ = remap_tokens(tokens, kept_index, grid, mask_token, pos_embed, 'sorted')
    assert sorted_dense[0, 0].flatten().tolist() == [0, MASK, MASK, MASK, 4, 5, 6, 7]


def test_official_equals_sorted_when_nothing_was_reordered():
    grid = (4, 2, 2)
    kept_index = torch.arange(12).expand(2, -1)  # keep rate 1: identity order
    tokens, mask_token, pos_embed = self_encoding_inputs(kept_index, grid)
    a = remap_tokens(tokens, kept_index, grid, mask_token, pos_embed, 'official')
    b = remap_tokens(tokens, kept_index, grid, mask_token, pos_embed, 'sorted')
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert (a[0][:, 0] != MASK).all()


def test_everything_dropped_leaves_only_the_keyframe():
    grid = (2, 2, 3)
    kept_index = torch.zeros(1, 0, dtype=torch.long)
    tokens, mask_token, pos_embed = self_encoding_inputs(kept_index, grid)
    dense, context = remap_tokens(tokens, kept_index, grid, mask_token, pos_embed)
    assert (dense[0, 0, 0] == MASK).all()
    assert dense[0, 0, 1].flatten().tolist() == list(range(6, 12))
    assert context.shape == (1, 6, 2)


def test_mask_token_gets_gradient_only_from_dropped_positions():
    grid = (2, 1, 2)
    kept_index = torch.tensor([[1]])  # non-key 0 dropped
    tokens, _, pos_embed = self_encoding_inputs(kept_index, grid)
    mask_token = torch.zeros(1, 1, 2, requires_grad=True)
    dense, _ = remap_tokens(tokens, kept_index, grid, mask_token, pos_embed)
    weight = torch.arange(8.).reshape(dense.shape)
    (dense * weight).sum().backward()
    # only slot 0, column 0 (flat position 0) holds the mask token
    assert mask_token.grad.flatten().tolist() == [0., 4.]


def test_half_precision_tokens_with_a_float32_mask_token():
    # under autocast the tokens arrive in bf16/fp16 while the mask token parameter stays fp32
    grid = (2, 2, 3)
    kept_index = torch.tensor([[0, 4]])
    tokens, mask_token, pos_embed = self_encoding_inputs(kept_index, grid)
    dense, context = remap_tokens(tokens, kept_index, grid, mask_token, pos_embed)
    dense16, context16 = remap_tokens(tokens.bfloat16(), kept_index, grid, mask_token,
                                      pos_embed)
    assert torch.equal(dense16.float(), dense)  # small integers: exact in bf16
    assert torch.equal(context16.float(), context)


def test_bad_arguments_are_named():
    grid = (2, 1, 2)
    kept_index = torch.tensor([[1]])
    tokens, mask_token, pos_embed = self_encoding_inputs(kept_index, grid)
    with pytest.raises(ValueError, match='kept_token_order'):
        remap_tokens(tokens, kept_index, grid, mask_token, pos_embed, 'score')
    with pytest.raises(ValueError, match='kept_index has shape'):
        remap_tokens(tokens, kept_index[:, :0], grid, mask_token, pos_embed)
