"""The kept-token view marks exactly the tokens the backbone kept, block by block."""
import cv2
import numpy as np
import pytest
import torch

from mmevad.models import TokenPruningViT
from mmevad.visualization import (dim_dropped_tokens, draw_kept_tokens, kept_token_masks,
                                  pruning_stage_masks)

# 8 frames of 32x48 pixels, patch 8, tubelet 2 -> grid (4, 4, 6), Nk = 24; prune in blocks 1, 3
GRID = (4, 4, 6)
KEEP_RATES = (1., 0.7, 1., 0.6)


@pytest.fixture(scope='module')
def pruned():
    torch.manual_seed(0)
    backbone = TokenPruningViT(img_size=32, patch_size=8, embed_dims=16, depth=4, num_heads=2,
                               num_frames=8, keep_rates=KEEP_RATES, feature_taps=(0, 1, 2, 3))
    with torch.no_grad():  # weights large enough that attention, hence pruning, is not uniform
        for param in backbone.parameters():
            param.normal_(0., 0.3)
    backbone.eval()
    with torch.no_grad():
        return backbone(torch.randn(2, 3, 8, 32, 48)), backbone.token_counts(GRID)


def expected_mask(indices, grid):
    """Positions of non-keyframe global indices written out: index g is token g % Nk of the
    (g // Nk)-th non-keyframe slot, and slots at or after the keyframe slot t // 2 move one
    slot later; every keyframe token is present."""
    t, h, w = grid
    mask = np.zeros(grid, bool)
    mask[t // 2] = True
    for g in indices:
        slot, pos = divmod(int(g), h * w)
        slot += slot >= t // 2
        mask[slot, pos // w, pos % w] = True
    return mask


def test_backbone_records_the_kept_tokens_of_every_block(pruned):
    output, counts = pruned
    num_key = GRID[1] * GRID[2]
    assert output.grid == GRID
    assert len(output.kept_index_per_block) == len(KEEP_RATES)
    previous = [set(range((GRID[0] - 1) * num_key))] * 2
    for kept, count in zip(output.kept_index_per_block, counts):
        assert kept.shape == (2, count - num_key)
        for b in range(2):
            current = set(kept[b].tolist())
            # distinct indices, a subset of what the previous block kept
            assert len(current) == count - num_key and current <= previous[b]
            previous[b] = current
    # the last block's set is the final kept_index (whatever its order)
    for b in range(2):
        assert sorted(output.kept_index_per_block[-1][b].tolist()) == sorted(
            output.kept_index[b].tolist())


def test_masks_mark_exactly_kept_index_per_block(pruned):
    output, counts = pruned
    num_key = GRID[1] * GRID[2]
    final = kept_token_masks(output.kept_index, output.grid)
    assert final.shape == (2, *GRID) and final.dtype == torch.bool
    for b in range(2):
        np.testing.assert_array_equal(final[b].numpy(),
                                      expected_mask(output.kept_index[b], GRID))
        assert int(final[b].sum()) == counts[-1]
    for block, kept in enumerate(output.kept_index_per_block):
        masks = kept_token_masks(kept, output.grid)
        for b in range(2):
            np.testing.assert_array_equal(masks[b].numpy(), expected_mask(kept[b], GRID))
            single = kept_token_masks(kept[b], output.grid)  # (K,) -> (t, h, w)
            assert torch.equal(single, masks[b])
            assert int(masks[b].sum()) == counts[block]
            assert masks[b][GRID[0] // 2].all()  # keyframe tokens are never pruned
    assert int(kept_token_masks(output.kept_index, GRID)[0].sum()) - num_key < (
        GRID[0] - 1) * num_key  # something was pruned


def test_pruning_stage_masks_are_the_pruning_blocks(pruned):
    output, _ = pruned
    blocks, masks = pruning_stage_masks(output, sample=1)
    assert blocks == [1, 3]
    for block, mask in zip(blocks, masks):
        np.testing.assert_array_equal(
            mask.numpy(), expected_mask(output.kept_index_per_block[block][1], GRID))
    with pytest.raises(ValueError, match='kept_index_per_block'):
        pruning_stage_masks(output._replace(kept_index_per_block=()))


def test_masks_refuse_indices_of_another_grid():
    with pytest.raises(ValueError, match='outside the 72 non-keyframe tokens'):
        kept_token_masks(torch.tensor([0, 72]), GRID)


def test_dim_dropped_tokens_dims_exactly_the_dropped_squares():
    rng = np.random.default_rng(0)
    mask = rng.random((4, 6)) < 0.5
    frame = np.full((30, 48, 3), 200, np.uint8)  # the grid of 4 x 8 rows covers 30 (padding)
    out = dim_dropped_tokens(frame, mask, patch_size=8, dim=0.25, grid_lines=False)
    expected = np.where(np.repeat(np.repeat(mask, 8, 0), 8, 1)[:30, :, None], 200, 50)
    np.testing.assert_array_equal(out, np.broadcast_to(expected, frame.shape))
    with pytest.raises(ValueError, match='does not cover'):
        dim_dropped_tokens(np.zeros((40, 48, 3), np.uint8), mask, patch_size=8)


def test_view_draws_each_stage_over_the_frames_of_its_slot(pruned):
    output, _ = pruned
    blocks, masks = pruning_stage_masks(output)
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (8, 32, 48, 3), dtype=np.uint8)
    view = draw_kept_tokens(frames, masks, GRID, patch_size=8, tile_height=32,
                            row_labels=[f'after block {b}' for b in blocks])
    assert view.dtype == np.uint8 and view.ndim == 3
    for mask in masks:
        for slot in range(GRID[0]):
            # slot s covers frames 2s and 2s + 1; the tile shows frame 2s + 1
            tile = dim_dropped_tokens(frames[2 * slot + 1], mask[slot], patch_size=8)
            match = cv2.matchTemplate(view, tile, cv2.TM_SQDIFF)
            y, x = np.unravel_index(match.argmin(), match.shape)
            np.testing.assert_array_equal(view[y:y + 32, x:x + 48], tile,
                                          err_msg=f'slot {slot} of a stage is not drawn')
    # the two stages differ, so the view holds two different tiles of a pruned slot
    assert not torch.equal(masks[0][0], masks[1][0])


def test_grid_lines_stop_at_the_frame_when_the_grid_covers_padding():
    # a 4 x 6 grid of 8-px tokens covers 32 x 48; the frame is 20 x 36, so a whole row and a
    # whole column of tokens lie in the padding past its border
    mask = np.ones((4, 6), bool)
    frame = np.zeros((20, 36, 3), np.uint8)
    out = dim_dropped_tokens(frame, mask, patch_size=8, grid_lines=True)
    lined_rows = np.flatnonzero(out[:, 3].any(-1))
    lined_cols = np.flatnonzero(out[3, :].any(-1))
    assert lined_rows.tolist() == [8, 16] and lined_cols.tolist() == [8, 16, 24, 32]
