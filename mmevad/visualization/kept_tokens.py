"""The kept-token view: which non-keyframe tokens survive EVAD's keyframe-centric pruning.

Every token of a ``(t, h, w)`` grid covers ``tubelet`` frames and a ``patch x patch`` square.
:func:`kept_token_masks` turns the kept non-keyframe indices of a
:class:`~mmevad.structures.TokenPruningOutput` into boolean ``(t, h, w)`` masks (the keyframe
slot ``t // 2`` is never pruned, so it is all True); :func:`draw_kept_tokens` draws those masks
over the clip's frames, one row per pruning stage and one column per temporal slot, with the
dropped tokens dimmed (see ``docs/algorithm.md`` on keyframe-centric token pruning).
"""
from typing import List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
from torch import Tensor

from mmevad.models.roi_heads.token_remapping import nonkey_to_flat_index
from mmevad.structures import TokenPruningOutput

__all__ = ['kept_token_masks', 'pruning_stage_masks', 'dim_dropped_tokens', 'draw_kept_tokens']

Grid = Tuple[int, int, int]

KEYFRAME_COLOR = (255, 190, 0)  # RGB frame around the keyframe slot, never pruned
GRID_LINE_COLOR = (255, 255, 255)
BACKGROUND = 255
TEXT_COLOR = (20, 20, 20)


def kept_token_masks(kept_index: Union[Tensor, np.ndarray, Sequence[int]],
                     grid: Grid) -> Tensor:
    """Boolean masks of the tokens present after pruning.

    Args:
        kept_index (Tensor | np.ndarray | Sequence[int]): ``(K,)`` or ``(B, K)`` non-keyframe
            global indices (``TokenPruningOutput.kept_index`` or one entry of
            ``kept_index_per_block``): non-keyframe tokens numbered slot by slot, raster order
            inside a slot, the keyframe slot ``t // 2`` left out.
        grid (tuple[int, int, int]): token grid ``(t, h, w)``.

    Returns:
        Tensor: bool ``(t, h, w)`` (or ``(B, t, h, w)``): True at the kept tokens and at every
        keyframe token, False at the pruned ones.

    Raises:
        ValueError: an index outside ``[0, (t - 1) * h * w)`` or a bad shape.
    """
    t, h, w = (int(v) for v in grid)
    index = torch.as_tensor(kept_index).long().cpu()
    single = index.dim() == 1
    if single:
        index = index[None]
    if index.dim() != 2:
        raise ValueError(f'kept_index must be (K,) or (B, K), got shape {tuple(index.shape)}')
    num_key = h * w
    num_nonkey = (t - 1) * num_key
    if index.numel() and (index.min() < 0 or index.max() >= num_nonkey):
        raise ValueError(
            f'kept_index holds {int(index.min())}..{int(index.max())}, outside the '
            f'{num_nonkey} non-keyframe tokens of grid {(t, h, w)}; pass the grid of the same '
            f'TokenPruningOutput')
    masks = torch.zeros(index.shape[0], t * num_key, dtype=torch.bool)
    key_slot = t // 2
    masks[:, key_slot * num_key:(key_slot + 1) * num_key] = True
    masks.scatter_(1, nonkey_to_flat_index(index, num_key, key_slot), True)
    masks = masks.view(-1, t, h, w)
    return masks[0] if single else masks


def pruning_stage_masks(output: TokenPruningOutput,
                        sample: int = 0) -> Tuple[List[int], List[Tensor]]:
    """Kept-token masks of one clip after each block that pruned.

    Args:
        output (TokenPruningOutput): a backbone output with ``kept_index_per_block``.
        sample (int): which clip of the batch. Defaults to 0.

    Returns:
        tuple[list[int], list[Tensor]]: the indices of the pruning blocks (the blocks after
        which fewer non-keyframe tokens remain) and one bool ``(t, h, w)`` mask per block. Both
        are empty when no block prunes.

    Raises:
        ValueError: the output does not record ``kept_index_per_block``.
    """
    if not output.kept_index_per_block:
        raise ValueError(
            'this TokenPruningOutput has no kept_index_per_block; it is recorded by '
            "mmevad's TokenPruningViT (out_type='evad'), use its output")
    t, h, w = output.grid
    before = (t - 1) * h * w
    blocks, masks = [], []
    for block, kept in enumerate(output.kept_index_per_block):
        if kept.shape[1] < before:
            blocks.append(block)
            masks.append(kept_token_masks(kept[sample], output.grid))
        before = kept.shape[1]
    return blocks, masks


def _cell_edges(size: int, cells: int, patch_size: Optional[float]) -> np.ndarray:
    """Pixel edges of ``cells`` tokens along a side of ``size`` pixels: ``patch_size`` pixels
    each (the token grid covers the padded clip, so the last cells may fall outside), or the
    side split evenly when ``patch_size`` is None."""
    if patch_size is None:
        edges = np.linspace(0, size, cells + 1)
    else:
        edges = np.arange(cells + 1) * float(patch_size)
    return np.clip(np.round(edges).astype(int), 0, size)


def dim_dropped_tokens(frame: np.ndarray,
                       mask: Union[Tensor, np.ndarray],
                       patch_size: Optional[float] = None,
                       dim: float = 0.35,
                       grid_lines: bool = True) -> np.ndarray:
    """One frame with the squares of its dropped tokens dimmed.

    Args:
        frame (np.ndarray): ``(H, W, 3)`` uint8 RGB.
        mask (Tensor | np.ndarray): ``(h, w)`` bool, True where the token is kept.
        patch_size (float, optional): pixels of ``frame`` per token side; the grid starts at
            the top-left corner and may extend past the frame (EVAD pads the clip at the
            bottom and right). None stretches the grid over the frame. Defaults to None.
        dim (float): brightness factor of the dropped tokens' pixels, which are also turned
            grey. Defaults to 0.35.
        grid_lines (bool): draw one-pixel token borders, half transparent. Defaults to True.

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8 RGB.
    """
    mask = torch.as_tensor(mask).bool().cpu().numpy()
    if mask.ndim != 2:
        raise ValueError(f'mask must be (h, w), got shape {mask.shape}')
    height, width = frame.shape[:2]
    rows = _cell_edges(height, mask.shape[0], patch_size)
    cols = _cell_edges(width, mask.shape[1], patch_size)
    if patch_size is not None and (rows[-1] < height or cols[-1] < width):
        raise ValueError(
            f'a {mask.shape[0]}x{mask.shape[1]} grid of {patch_size}-pixel tokens does not '
            f'cover the {height}x{width} frame; pass the frames the backbone saw (resized) or '
            f'patch_size=None to stretch the grid over them')
    # per-pixel keep mask: the token of every pixel row / column
    row_of = np.searchsorted(rows, np.arange(height), side='right') - 1
    col_of = np.searchsorted(cols, np.arange(width), side='right') - 1
    keep = mask[row_of[:, None], col_of[None, :]]
    out = frame.astype(np.float32)
    # dropped: grey and dark, so that the kept tokens stand out in colour
    out[~keep] = out[~keep].mean(-1, keepdims=True) * dim
    if grid_lines:
        line = np.array(GRID_LINE_COLOR, np.float32)
        # inner borders only: cells past the frame (padding) have their edges clipped to it
        for y in np.unique(rows[(rows > 0) & (rows < height)]):
            out[y] = 0.75 * out[y] + 0.25 * line
        for x in np.unique(cols[(cols > 0) & (cols < width)]):
            out[:, x] = 0.75 * out[:, x] + 0.25 * line
    return out.round().clip(0, 255).astype(np.uint8)


def _put_text(canvas: np.ndarray, text: str, x: int, y: int, scale: float,
              bold: bool = False) -> None:
    """Write ``text`` with its baseline at ``(x, y)`` (OpenCV's Hershey font)."""
    cv2.putText(canvas, text, (int(x), int(y)), cv2.FONT_HERSHEY_SIMPLEX, scale, TEXT_COLOR,
                2 if bold else 1, cv2.LINE_AA)


def _text_width(text: str, scale: float, bold: bool = False) -> int:
    (width, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 2 if bold else 1)
    return width


def draw_kept_tokens(frames: Union[np.ndarray, Sequence[np.ndarray]],
                     masks_per_block: Sequence[Union[Tensor, np.ndarray]],
                     grid: Grid,
                     patch_size: Optional[float] = None,
                     row_labels: Optional[Sequence[str]] = None,
                     dim: float = 0.35,
                     tile_height: int = 180,
                     title: Optional[str] = None) -> np.ndarray:
    """Compose the kept-token view of one clip: rows = pruning stages, columns = temporal slots.

    Each tile shows one frame of a temporal slot (the middle one of the frames the slot covers)
    with the tokens dropped by then dimmed and grey; the keyframe slot, never pruned, is framed
    in orange. Above each row is its label with the number of non-keyframe tokens kept; the
    header says what the colours mean.

    Args:
        frames (np.ndarray | Sequence[np.ndarray]): ``(T, H, W, 3)`` uint8 RGB frames of the
            clip, ``T`` a multiple of ``t`` (``T / t`` frames per slot, e.g. the clip the
            backbone saw, ``tubelet_size`` frames per slot, or one frame per slot).
        masks_per_block (Sequence[Tensor | np.ndarray]): bool ``(t, h, w)`` masks (from
            :func:`kept_token_masks` / :func:`pruning_stage_masks`), one row each.
        grid (tuple[int, int, int]): ``(t, h, w)``.
        patch_size (float, optional): pixels of ``frames`` per token side (see
            :func:`dim_dropped_tokens`); None stretches the grid over the frames.
            Defaults to None.
        row_labels (Sequence[str], optional): one label per row; defaults to
            ``'stage i'``.
        dim (float): brightness of dropped tokens. Defaults to 0.35.
        tile_height (int): height of each tile in pixels; frames are resized (nearest, so
            token borders stay sharp) to it. Defaults to 180.
        title (str, optional): a line above everything. Defaults to None.

    Returns:
        np.ndarray: the ``(H', W', 3)`` uint8 RGB view.
    """
    t, h, w = (int(v) for v in grid)
    frames = np.stack(list(frames)) if not isinstance(frames, np.ndarray) else frames
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) % t:
        raise ValueError(f'frames must be (T, H, W, 3) with T a multiple of the {t} temporal '
                         f'slots, got shape {frames.shape}')
    masks = [torch.as_tensor(m).bool().cpu() for m in masks_per_block]
    for m in masks:
        if tuple(m.shape) != (t, h, w):
            raise ValueError(f'every mask must be (t, h, w) = {(t, h, w)}, got '
                             f'{tuple(m.shape)}')
    if row_labels is None:
        row_labels = [f'stage {i}' for i in range(len(masks))]
    if len(row_labels) != len(masks):
        raise ValueError(f'{len(row_labels)} row labels for {len(masks)} masks')

    per_slot = len(frames) // t
    shown = frames[np.arange(t) * per_slot + per_slot // 2]  # (t, H, W, 3)
    height, width = shown.shape[1:3]
    scale = tile_height / height
    tile_w = int(round(width * scale))
    tile_patch = None if patch_size is None else patch_size * scale
    shown = [cv2.resize(f, (tile_w, tile_height), interpolation=cv2.INTER_AREA)
             for f in shown]

    gap, border = 6, 3
    font = max(tile_height / 360, 0.4)
    line_h = int(32 * font) + 8
    key_slot = t // 2
    num_nonkey = (t - 1) * h * w
    legend = 'grey: pruned tokens, orange: keyframe slot (never pruned)'
    row_texts = [f'{label}: {int(mask.sum()) - h * w}/{num_nonkey} non-keyframe tokens kept'
                 for label, mask in zip(row_labels, masks)]
    # wide enough for the tiles and every line of text
    width_all = max([t * tile_w + (t + 1) * gap] + [
        _text_width(text, font) + 2 * gap for text in row_texts
    ] + [_text_width(legend, font * 0.9) + 2 * gap,
         _text_width(title, font, True) + 2 * gap if title else 0])
    top = (2 if title else 1) * line_h + line_h  # title, legend, then column headers
    height_all = top + len(masks) * (line_h + tile_height + gap) + gap
    canvas = np.full((height_all, width_all, 3), BACKGROUND, np.uint8)

    if title:
        _put_text(canvas, title, gap, line_h - 10, font, bold=True)
    _put_text(canvas, legend, gap, (2 if title else 1) * line_h - 10, font * 0.9)
    for s in range(t):
        x = gap + s * (tile_w + gap)
        label = f'slot {s}' + (' (keyframe)' if s == key_slot else '')
        _put_text(canvas, label, x, top - 10, font * 0.9)
    y = top
    for text, mask in zip(row_texts, masks):
        _put_text(canvas, text, gap, y + line_h - 10, font)
        y += line_h
        for s in range(t):
            x = gap + s * (tile_w + gap)
            if s == key_slot:  # a filled rectangle under the tile leaves a frame around it
                canvas[y - border:y + tile_height + border,
                       x - border:x + tile_w + border] = KEYFRAME_COLOR
            canvas[y:y + tile_height, x:x + tile_w] = dim_dropped_tokens(
                shown[s], mask[s], tile_patch, dim)
        y += tile_height + gap
    return canvas
