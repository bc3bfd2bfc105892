"""Pixels of a synthetic AVA video: textured background, distractors, stick figures, noise.

Drawing uses OpenCV with sub-pixel coordinates (``shift``) and anti-aliasing, so slow motion is
smooth. Rendering is a deterministic function of the scene, its simulated tracks and
``scene.texture_seed``.
"""
from typing import Iterator, Sequence

import cv2
import numpy as np

from .motion import BONES, HEAD_RADIUS, JOINTS, DistractorTrack, FigureTrack
from .scene import Distractor, Figure, Scene, frame_index, num_frames

__all__ = ['make_background', 'draw_figure', 'draw_distractor', 'render_frames']

_SHIFT = 4  # OpenCV fixed-point fraction bits: coordinates in 1/16 px
_ONE = 1 << _SHIFT
_HEAD = JOINTS.index('head')
NOISE_BANK = 4  # sensor-noise frames cycled at random (fresh noise per frame costs too much)
FLASH_FRAMES = 2  # a camera flash lasts +-2 frames around an excluded keyframe


def _fixed(points: np.ndarray) -> np.ndarray:
    """Pixel coordinates -> OpenCV fixed-point ints."""
    return np.round(np.asarray(points) * _ONE).astype(np.int64)


def make_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A static textured background: a two-colour gradient, low-frequency colour noise,
    optional stripes or checkers, and a few static lines and rectangles (some limb-like).

    Args:
        rng (np.random.Generator): random source.
        height, width (int): frame size.

    Returns:
        np.ndarray: ``(height, width, 3)`` uint8 BGR.
    """
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    yy, xx = yy / height, xx / width
    c1, c2 = rng.uniform(70, 185, 3), rng.uniform(70, 185, 3)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = xx * np.cos(angle) + yy * np.sin(angle)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    img = c1 + (c2 - c1) * ramp[..., None]
    grid = rng.normal(0, 1, (int(rng.integers(3, 9)), int(rng.integers(3, 9)), 3))
    blobs = cv2.resize(grid.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    img += rng.uniform(5, 25) * blobs
    pattern = int(rng.integers(3))
    if pattern:  # 1: stripes, 2: checkers
        freq, theta = rng.uniform(3, 12), rng.uniform(0, np.pi)
        wave = np.sin(2 * np.pi * freq * (xx * np.cos(theta) + yy * np.sin(theta)))
        if pattern == 2:
            wave = np.sign(wave * np.sin(2 * np.pi * freq * (-xx * np.sin(theta) +
                                                              yy * np.cos(theta))))
        img += rng.uniform(6, 20) * wave[..., None] * rng.uniform(0.3, 1.0, 3)
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(3, 9))):
        color = tuple(int(c) for c in rng.integers(30, 226, 3))
        p1 = rng.uniform(0, 1, 2) * (width, height)
        p2 = p1 + rng.normal(0, 0.25, 2) * (width, height)
        if rng.random() < 0.6:
            cv2.line(img, tuple(_fixed(p1)), tuple(_fixed(p2)), color,
                     int(rng.integers(1, 6)), cv2.LINE_AA, _SHIFT)
        else:
            cv2.rectangle(img, tuple(_fixed(p1)), tuple(_fixed(p2)), color,
                          -1 if rng.random() < 0.5 else int(rng.integers(1, 4)), cv2.LINE_AA,
                          _SHIFT)
    return img


def draw_figure(img: np.ndarray, figure: Figure, joints: np.ndarray) -> None:
    """Draw one stick figure in place.

    Args:
        img (np.ndarray): ``(H, W, 3)`` uint8 BGR canvas.
        figure (Figure): colours and line widths.
        joints (np.ndarray): ``(len(JOINTS), 2)`` OpenCV fixed-point joint positions
            (pixels * 16, int).
    """
    pts = [tuple(p) for p in joints.tolist()]
    for a, b, is_torso in BONES:
        thickness = figure.torso_thickness if is_torso else figure.limb_thickness
        cv2.line(img, pts[a], pts[b], figure.color, thickness, cv2.LINE_AA, _SHIFT)
    radius = int(round(HEAD_RADIUS * figure.height * _ONE))
    cv2.circle(img, pts[_HEAD], radius, figure.head_color, -1, cv2.LINE_AA, _SHIFT)


def draw_distractor(img: np.ndarray, d: Distractor, points: np.ndarray, radius: float) -> None:
    """Draw one distractor in place.

    Args:
        img (np.ndarray): ``(H, W, 3)`` uint8 BGR canvas.
        d (Distractor): kind and colour.
        points (np.ndarray): ``(P, 2)`` fixed-point outline of this frame (see
            :class:`~.motion.DistractorTrack`).
        radius (float): disc radius / half bar width in pixels.
    """
    if d.kind == 'ball':
        cv2.circle(img, tuple(points[0].tolist()), int(round(radius * _ONE)), d.color, -1,
                   cv2.LINE_AA, _SHIFT)
    elif d.kind == 'pendulum':
        cv2.line(img, tuple(points[0].tolist()), tuple(points[1].tolist()), d.color,
                 d.thickness, cv2.LINE_AA, _SHIFT)
    else:
        cv2.fillConvexPoly(img, points.astype(np.int32), d.color, cv2.LINE_AA, _SHIFT)


def render_frames(scene: Scene, figure_tracks: Sequence[FigureTrack],
                  distractor_tracks: Sequence[DistractorTrack]) -> Iterator[np.ndarray]:
    """Render every frame of a video.

    Objects are drawn far to near (a figure's depth is its ground line). Each frame gets sensor
    noise; frames within ``FLASH_FRAMES`` of an excluded keyframe are over-exposed (a camera
    flash, the synthetic reason for the exclusion).

    Args:
        scene (Scene): the video.
        figure_tracks (Sequence[FigureTrack]): one per ``scene.figures``.
        distractor_tracks (Sequence[DistractorTrack]): one per ``scene.distractors``.

    Yields:
        np.ndarray: ``(H, W, 3)`` uint8 BGR frames, in order.
    """
    rng = np.random.default_rng(scene.texture_seed)
    background = make_background(rng, scene.height, scene.width)
    sigma = rng.uniform(2, 5)
    noise = np.round(rng.normal(0, sigma, (NOISE_BANK, scene.height, scene.width, 3)))
    noise = noise.astype(np.int16)
    n_frames = num_frames(scene.seconds)
    noise_index = rng.integers(NOISE_BANK, size=n_frames)
    flash = np.zeros(n_frames, dtype=bool)
    for ts in scene.excluded_timestamps:
        k = frame_index(ts)
        flash[max(k - FLASH_FRAMES, 0):k + FLASH_FRAMES + 1] = True

    layers = [(f.ground_y, 0, i) for i, f in enumerate(scene.figures)]
    layers += [(d.depth, 1, i) for i, d in enumerate(scene.distractors)]
    layers.sort()
    fig_joints = [_fixed(tr.joints) for tr in figure_tracks]
    dis_points = [_fixed(tr.points) for tr in distractor_tracks]
    for k in range(n_frames):
        img = background.copy()
        for _, is_distractor, i in layers:
            if is_distractor:
                draw_distractor(img, scene.distractors[i], dis_points[i][k],
                                distractor_tracks[i].radius)
            else:
                draw_figure(img, scene.figures[i], fig_joints[i][k])
        frame = img.astype(np.int16) + noise[noise_index[k]]
        if flash[k]:
            frame = frame * 3 // 2 + 60
        yield np.clip(frame, 0, 255).astype(np.uint8)
