"""The token-grid indexing shared by the backbone and the RoI head."""
import torch

from mmevad.structures import keyframe_first, keyframe_slot, nonkey_to_flat_index, token_positions


def _grid_tokens(grid, batch=2):
    """Tokens whose single channel is their own grid-order position."""
    t, h, w = grid
    return torch.arange(t * h * w).float().expand(batch, -1)[..., None]


def test_keyframe_first_puts_the_middle_slot_first_then_the_others_in_order():
    grid = (4, 2, 3)
    out = keyframe_first(_grid_tokens(grid), grid)[0, :, 0].long()
    nk = 6
    assert keyframe_slot(grid) == 2
    expected = list(range(2 * nk, 3 * nk)) + list(range(0, 2 * nk)) + list(range(3 * nk, 4 * nk))
    assert out.tolist() == expected


def test_nonkey_index_and_token_positions_invert_keyframe_first():
    for grid in [(2, 1, 1), (4, 2, 3), (8, 3, 2)]:
        t, h, w = grid
        nk = h * w
        ordered = keyframe_first(_grid_tokens(grid), grid)  # channel = grid position
        index = torch.arange((t - 1) * nk)
        assert torch.equal(nonkey_to_flat_index(index, nk, t // 2), ordered[0, nk:, 0].long())
        # a pruned, shuffled selection: positions follow the tokens' order
        kept = torch.stack([torch.randperm((t - 1) * nk)[:max(1, nk)] for _ in range(2)])
        positions = token_positions(kept, grid)
        assert positions.shape == (2, nk + kept.shape[1])
        for b in range(2):
            tokens = torch.cat([ordered[b, :nk], ordered[b, nk:][kept[b]]])
            assert torch.equal(positions[b], tokens[:, 0].long())
