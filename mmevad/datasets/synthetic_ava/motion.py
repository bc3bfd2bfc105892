"""Where everything in a synthetic AVA scene is at every frame, and what the figures do.

Pure, vectorised functions of a :class:`~.scene.Scene`: joint positions of every figure on the
30 fps frame grid (:func:`simulate_figure`), tight boxes of the drawn figures
(:func:`figure_boxes`), the AVA labels of a keyframe (:func:`window_labels`), per-keyframe
annotations (:func:`annotate_keyframes`), outlines of the distractors
(:func:`simulate_distractor`) and person proposals with detector-like noise
(:func:`sample_proposals`). Coordinates are pixels with pixel *centres* at integers (what
OpenCV draws with); boxes are returned in the corner convention AVA boxes use (pixel ``i``
spans ``[i, i + 1)``).
"""
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import numpy as np

from .scene import (FPS, JUMP, RUN, STAND, WALK, Distractor, Figure, Scene, Segment,
                    frame_index, frame_times, keyframe_timestamps)

__all__ = [
    'JOINTS', 'BONES', 'POSE_FIELDS', 'FigureTrack', 'DistractorTrack', 'KeyframePerson',
    'gait_pose', 'simulate_figure', 'figure_boxes', 'window_labels', 'simulate_distractor',
    'annotate_keyframes', 'sample_proposals'
]

# body proportions, in figure heights
TORSO, NECK_TO_HEAD, HEAD_RADIUS, SHOULDER_DROP = 0.30, 0.095, 0.075, 0.03
THIGH, SHIN, UPPER_ARM, FOREARM = 0.235, 0.225, 0.17, 0.16

JOINTS = ('hip', 'neck', 'head', 'shoulder', 'knee_l', 'foot_l', 'knee_r', 'foot_r', 'elbow_l',
          'hand_l', 'elbow_r', 'hand_r')
_J = {name: i for i, name in enumerate(JOINTS)}
# (from, to, is_torso); the head is a filled disc at 'head'
BONES = tuple((_J[a], _J[b], a == 'hip' and b == 'neck') for a, b in (
    ('hip', 'neck'), ('hip', 'knee_l'), ('knee_l', 'foot_l'), ('hip', 'knee_r'),
    ('knee_r', 'foot_r'), ('shoulder', 'elbow_l'), ('elbow_l', 'hand_l'), ('shoulder', 'elbow_r'),
    ('elbow_r', 'hand_r')))

# Joint angles in rad. Limb angles are measured from hanging straight down, positive towards
# the facing direction; knees bend the shin backwards, elbows bend the forearm forwards.
POSE_FIELDS = ('thigh_l', 'thigh_r', 'knee_l', 'knee_r', 'arm_l', 'arm_r', 'elbow_l', 'elbow_r')
_ARM = (4, 5)
_ELBOW = (6, 7)

# gait shapes: thigh swing, knee bend (base + swing-dependent), arm swing, elbow bend
_GAITS = {
    WALK: dict(thigh=0.40, knee0=0.05, knee=0.55, arm=0.35, elbow=0.25),
    RUN: dict(thigh=0.75, knee0=0.30, knee=1.30, arm=0.80, elbow=1.60),
}
TRANSITION = 0.15  # s: poses and speeds cross-fade over +-TRANSITION around a segment boundary
X_RANGE = (0.05, 0.95)
# OpenCV's anti-aliased lines and discs cover (at least half of) the pixels up to half a pixel
# beyond their nominal width / radius (measured with OpenCV 4.x)
AA_MARGIN = 0.5  # hip x stays in this fraction of the width (figures turn at the borders)


def gait_pose(gait: int, phase: np.ndarray, swing: float = 1.0) -> Tuple[np.ndarray, np.ndarray]:
    """Joint angles of a gait at given phases.

    Args:
        gait (int): WALK, RUN or JUMP.
        phase (np.ndarray): gait phase in rad, any shape ``S``; one gait cycle (two steps, or
            one bounce) per ``2 pi``.
        swing (float): scale of the limb swing.

    Returns:
        tuple[np.ndarray, np.ndarray]: angles ``S + (8,)`` in :data:`POSE_FIELDS` order, and
        the airborne fraction ``S`` in [0, 1] (0 except for JUMP).
    """
    phase = np.asarray(phase, dtype=np.float64)
    pose = np.zeros(phase.shape + (len(POSE_FIELDS), ))
    air = np.zeros(phase.shape)
    if gait in _GAITS:
        g, s, c = _GAITS[gait], np.sin(phase), np.cos(phase)
        pose[..., 0], pose[..., 1] = swing * g['thigh'] * s, -swing * g['thigh'] * s
        # the knee bends most while its leg swings forwards
        pose[..., 2] = g['knee0'] + swing * g['knee'] * (0.5 + 0.5 * c)
        pose[..., 3] = g['knee0'] + swing * g['knee'] * (0.5 - 0.5 * c)
        pose[..., 4], pose[..., 5] = -swing * g['arm'] * s, swing * g['arm'] * s
        pose[..., 6:8] = g['elbow']
    elif gait == JUMP:
        air = np.abs(np.sin(phase / 2))  # parabola-like flight, landing at multiples of 2 pi
        tuck = swing * air
        pose[..., 0], pose[..., 1] = 0.10 + 0.75 * tuck, 0.20 + 0.65 * tuck
        pose[..., 2], pose[..., 3] = 0.25 + 1.50 * tuck, 0.30 + 1.40 * tuck
        pose[..., 4], pose[..., 5] = 0.40 + 2.00 * tuck, 0.60 + 1.80 * tuck
        pose[..., 6:8] = 0.30
    else:
        raise ValueError(f'gait must be WALK ({WALK}), RUN ({RUN}) or JUMP ({JUMP}), got {gait}')
    return pose, air


def _segment_weights(segments: Sequence[Segment], t: np.ndarray) -> np.ndarray:
    """Cross-fade weights ``(num_segments, F)``: 1 inside a segment, linear ramps of width
    ``2 * TRANSITION`` at its boundaries; every column sums to 1."""
    start = np.array([s.start for s in segments])[:, None]
    end = np.array([s.end for s in segments])[:, None]
    rise = np.clip((t - (start - TRANSITION)) / (2 * TRANSITION), 0, 1)
    fall = np.clip(((end + TRANSITION) - t) / (2 * TRANSITION), 0, 1)
    if len(segments):  # the video edges are not fades
        rise[0], fall[-1] = 1.0, 1.0
    return rise * fall


def _leg_extent(pose: np.ndarray) -> np.ndarray:
    """Vertical reach of the longer leg below the hip, in figure heights, ``(F,)``."""
    return np.maximum(THIGH * np.cos(pose[..., 0]) + SHIN * np.cos(pose[..., 0] - pose[..., 2]),
                      THIGH * np.cos(pose[..., 1]) + SHIN * np.cos(pose[..., 1] - pose[..., 3]))


def _segment_pose(segment: Segment, t: np.ndarray,
                  phase: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Angles ``(F, 8)`` the segment prescribes at times ``t`` and the lift ``(F,)`` of the feet
    above the ground (figure heights)."""
    lift = np.zeros(t.shape)
    if segment.movement == STAND:
        # a frozen jump pose stands on the ground
        pose, _ = gait_pose(segment.frozen_gait, np.full(t.shape, segment.frozen_phase),
                            segment.swing)
        if segment.frozen_arm is not None:
            pose[:, _ARM[segment.wave_side]] = segment.frozen_arm
            pose[:, _ELBOW[segment.wave_side]] = 0.3
    else:
        pose, air = gait_pose(segment.movement, phase, segment.swing)
        if segment.movement == JUMP:
            # the hip flies `jump_height * air` above its take-off height; the tucked feet
            # rise further
            take_off, _ = gait_pose(JUMP, np.zeros(t.shape), segment.swing)
            lift = segment.jump_height * air + _leg_extent(take_off) - _leg_extent(pose)
    if segment.wave:
        wave = np.sin(2 * np.pi * segment.wave_rate * t + segment.wave_phase)
        pose[:, _ARM[segment.wave_side]] = segment.wave_center + segment.wave_amp * wave
        pose[:, _ELBOW[segment.wave_side]] = 0.35 + 0.25 * wave
    return pose, lift


@dataclass(frozen=True)
class FigureTrack:
    """A figure simulated on the frame grid.

    Attributes:
        joints (np.ndarray): ``(F, len(JOINTS), 2)`` xy in pixels (pixel centres at integers).
        radii (np.ndarray): ``(len(JOINTS),)`` radius of the disc drawn around each joint:
            half the line width (the head radius at 'head') plus ``AA_MARGIN``.
        facing (np.ndarray): ``(F,)`` +1 facing right, -1 left.
        boxes (np.ndarray): ``(F, 4)`` tight x1, y1, x2, y2 of the drawn figure in pixels
            (corner convention, not clipped to the frame).
    """
    joints: np.ndarray
    radii: np.ndarray
    facing: np.ndarray
    boxes: np.ndarray


def _fold(u: np.ndarray, lo: float, hi: float) -> Tuple[np.ndarray, np.ndarray]:
    """Reflect positions into ``[lo, hi]`` (bouncing off the ends); also return the sign (+1 /
    -1) that the reflection gives the velocity."""
    span = hi - lo
    k = np.floor((u - lo) / span)
    r = (u - lo) - k * span
    odd = (k % 2).astype(bool)
    return lo + np.where(odd, span - r, r), np.where(odd, -1.0, 1.0)


def simulate_figure(figure: Figure, seconds: int, width: int) -> FigureTrack:
    """Joint positions of a figure at every frame of its video.

    The gait phase and the hip x integrate the (cross-faded) gait rate and velocity over the
    frame grid, so motion is continuous through action changes; the hip bounces off the left
    and right borders. The feet stay on the ground (the hip bobs as the legs swing) except
    during the flight of a jump.

    Args:
        figure (Figure): the figure.
        seconds (int): annotated seconds of the video (sets the frame grid).
        width (int): frame width in pixels.

    Returns:
        FigureTrack: joints, radii, facing and boxes for every frame.
    """
    t = frame_times(seconds)
    h = figure.height
    segments = figure.segments
    w = _segment_weights(segments, t)  # (S, F)
    rate = w.T @ np.array([s.rate for s in segments])
    phase = figure.phase0 + 2 * np.pi * np.concatenate([[0.0], np.cumsum(rate[:-1])]) / FPS
    pose, lift = np.zeros((len(t), len(POSE_FIELDS))), np.zeros(len(t))
    for weight, segment in zip(w, segments):
        active = weight > 0
        seg_pose, seg_lift = _segment_pose(segment, t[active], phase[active])
        pose[active] += weight[active, None] * seg_pose
        lift[active] += weight[active] * seg_lift
    velocity = w.T @ np.array([s.direction * s.speed * h for s in segments])  # px/s
    u = figure.x0 + np.concatenate([[0.0], np.cumsum(velocity[:-1])]) / FPS
    x, reflected = _fold(u, X_RANGE[0] * width, X_RANGE[1] * width)
    direction = np.array([s.direction for s in segments])[np.argmax(w, axis=0)]
    facing = direction * reflected

    def limb(angle):  # (F, 2) unit vector of a limb at `angle`
        return np.stack([facing * np.sin(angle), np.cos(angle)], axis=-1)

    thigh_l, thigh_r = THIGH * h * limb(pose[:, 0]), THIGH * h * limb(pose[:, 1])
    shin_l = SHIN * h * limb(pose[:, 0] - pose[:, 2])
    shin_r = SHIN * h * limb(pose[:, 1] - pose[:, 3])
    hip = np.stack([x, figure.ground_y - (_leg_extent(pose) + lift) * h], axis=-1)
    up = np.array([0.0, -1.0])
    neck = hip + TORSO * h * up
    shoulder = neck - SHOULDER_DROP * h * up
    elbow_l = shoulder + UPPER_ARM * h * limb(pose[:, 4])
    elbow_r = shoulder + UPPER_ARM * h * limb(pose[:, 5])
    joints = {
        'hip': hip,
        'neck': neck,
        'head': neck + NECK_TO_HEAD * h * up,
        'shoulder': shoulder,
        'knee_l': hip + thigh_l,
        'foot_l': hip + thigh_l + shin_l,
        'knee_r': hip + thigh_r,
        'foot_r': hip + thigh_r + shin_r,
        'elbow_l': elbow_l,
        'hand_l': elbow_l + FOREARM * h * limb(pose[:, 4] + pose[:, 6]),
        'elbow_r': elbow_r,
        'hand_r': elbow_r + FOREARM * h * limb(pose[:, 5] + pose[:, 7]),
    }
    joints = np.stack([joints[name] for name in JOINTS], axis=1)
    radii = np.full(len(JOINTS), figure.limb_thickness / 2 + AA_MARGIN)
    radii[[_J['hip'], _J['neck']]] = figure.torso_thickness / 2 + AA_MARGIN
    radii[_J['head']] = HEAD_RADIUS * h + AA_MARGIN
    return FigureTrack(joints, radii, facing, figure_boxes(joints, radii))


def figure_boxes(joints: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Tight boxes of stick figures drawn as round-capped lines and discs.

    A round-capped line is the hull of the discs at its ends, so the box of the drawing is the
    box of all joint discs.

    Args:
        joints (np.ndarray): ``(..., J, 2)`` joint xy, pixel centres at integers.
        radii (np.ndarray): ``(J,)`` disc radius at each joint.

    Returns:
        np.ndarray: ``(..., 4)`` x1, y1, x2, y2 in corner convention (pixel centre + 0.5).
    """
    r = radii[:, None]
    return np.concatenate([(joints - r).min(axis=-2), (joints + r).max(axis=-2)], axis=-1) + 0.5


def window_labels(segments: Sequence[Segment], timestamp: float,
                  half_window: float = 1.0) -> Tuple[int, ...]:
    """AVA action ids of a figure at a keyframe: every action it performs during more than half
    of the ``timestamp +- half_window`` seconds.

    Args:
        segments (Sequence[Segment]): the figure's actions.
        timestamp (float): keyframe time in video seconds.
        half_window (float): half the label window in seconds. Defaults to 1.

    Returns:
        tuple[int]: sorted action ids (one movement, possibly with HAND_WAVE).
    """
    lo, hi = timestamp - half_window, timestamp + half_window
    cover: Dict[int, float] = {}
    for s in segments:
        overlap = min(s.end, hi) - max(s.start, lo)
        if overlap > 0:
            for label in s.labels:
                cover[label] = cover.get(label, 0.0) + overlap
    return tuple(sorted(k for k, v in cover.items() if v > half_window))


@dataclass(frozen=True)
class DistractorTrack:
    """A distractor on the frame grid.

    Attributes:
        points (np.ndarray): ``(F, P, 2)`` polygon corners (box: 4, triangle: 3), disc centre
            (ball: 1) or bar ends (pendulum: 2), pixel centres at integers.
        radius (float): disc radius (ball) or half bar width (pendulum); 0 for polygons.
    """
    points: np.ndarray
    radius: float

    @property
    def boxes(self) -> np.ndarray:
        """``(F, 4)`` x1, y1, x2, y2 in pixels, corner convention."""
        r = self.radius
        return np.concatenate([self.points.min(1) - r, self.points.max(1) + r], axis=-1) + 0.5


def simulate_distractor(d: Distractor, seconds: int, width: int, height: int) -> DistractorTrack:
    """Outline of a distractor at every frame: straight motion bouncing off the frame borders,
    plus rotation (box, triangle), vertical bouncing (ball) or swinging (pendulum).

    Args:
        d (Distractor): the shape.
        seconds (int): annotated seconds of the video (sets the frame grid).
        width, height (int): frame size in pixels.

    Returns:
        DistractorTrack: outline points and radius per frame.
    """
    t = frame_times(seconds) - frame_times(seconds)[0]
    cx, _ = _fold(d.x0 + d.vx * t, 0.0, float(width))
    cy, _ = _fold(d.y0 + d.vy * t, 0.1 * height, float(height))
    centre = np.stack([cx, cy], axis=-1)  # (F, 2)
    if d.kind == 'ball':
        centre[:, 1] -= d.bounce * np.abs(np.sin(np.pi * d.rate * t))
        return DistractorTrack(centre[:, None], d.size / 2)
    if d.kind == 'pendulum':
        angle = d.angle0 + d.spin * np.sin(2 * np.pi * d.rate * t)
        end = centre + d.size * np.stack([np.sin(angle), np.cos(angle)], axis=-1)
        return DistractorTrack(np.stack([centre, end], axis=1), d.thickness / 2)
    if d.kind == 'box':
        corners = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])
    elif d.kind == 'triangle':
        corners = np.array([[0.0, -0.5], [0.5, 0.5], [-0.5, 0.5]])
    else:
        raise ValueError(f"unknown distractor kind {d.kind!r}; use 'box', 'triangle', 'ball' "
                         "or 'pendulum'")
    corners = corners * np.array([d.size, d.size * d.aspect])
    angle = d.angle0 + d.spin * t
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]  # (F, 1)
    x = cos * corners[:, 0] - sin * corners[:, 1]
    y = sin * corners[:, 0] + cos * corners[:, 1]
    return DistractorTrack(centre[:, None] + np.stack([x, y], axis=-1), 0.0)


@dataclass(frozen=True)
class KeyframePerson:
    """One figure at one keyframe.

    Attributes:
        timestamp (int): keyframe (video seconds).
        person_id (int): 1-based figure index in the scene (AVA's person id column).
        box (np.ndarray): ``(4,)`` x1, y1, x2, y2 normalised to [0, 1], clipped to the frame.
        labels (tuple[int]): AVA action ids.
    """
    timestamp: int
    person_id: int
    box: np.ndarray
    labels: Tuple[int, ...]


def annotate_keyframes(scene: Scene, tracks: Sequence[FigureTrack],
                       min_visible: float = 0.5) -> List[KeyframePerson]:
    """Ground truth of every keyframe (excluded ones too; the writer leaves those out).

    Args:
        scene (Scene): the video.
        tracks (Sequence[FigureTrack]): :func:`simulate_figure` of each ``scene.figures``.
        min_visible (float): a figure is annotated if at least this fraction of its box lies
            inside the frame. Defaults to 0.5.

    Returns:
        list[KeyframePerson]: ordered by timestamp, then person id.
    """
    size = np.array([scene.width, scene.height] * 2, dtype=np.float64)
    people = []
    for ts in keyframe_timestamps(scene.seconds):
        k = frame_index(ts)
        for pid, (figure, track) in enumerate(zip(scene.figures, tracks), start=1):
            box = track.boxes[k]
            clipped = np.clip(box, 0, size)
            area = np.prod(box[2:] - box[:2])
            visible = np.prod(np.maximum(clipped[2:] - clipped[:2], 0)) / area
            if visible >= min_visible:
                people.append(
                    KeyframePerson(int(ts), pid, clipped / size,
                                   window_labels(figure.segments, float(ts))))
    return people


def sample_proposals(rng: np.random.Generator, people: Sequence[KeyframePerson],
                     distractor_boxes: np.ndarray) -> np.ndarray:
    """Detector-like person proposals of one keyframe, as in mmaction's proposal pickles.

    Every person gets a jittered box with a high score (0.9 - 1.0); a distractor is mistaken
    for a person with probability 0.5 (score 0.2 - 0.85), and with probability 0.3 a random box
    is added (score 0.02 - 0.3).

    Args:
        rng (np.random.Generator): random source.
        people (Sequence[KeyframePerson]): ground truth at this keyframe.
        distractor_boxes (np.ndarray): ``(D, 4)`` distractor boxes normalised to [0, 1].

    Returns:
        np.ndarray: ``(N, 5)`` float32 x1, y1, x2, y2 (normalised) and score, by falling score.
    """
    rows = []

    def jittered(box, sigma):
        wh = np.tile(box[2:] - box[:2], 2)
        out = np.clip(box + rng.normal(0, sigma, 4) * wh, 0, 1)
        out[2:] = np.maximum(out[2:], np.minimum(out[:2] + 0.01, 1.0))
        out[:2] = np.minimum(out[:2], out[2:] - 0.01)
        return out

    for person in people:
        rows.append((*jittered(person.box, 0.04), rng.uniform(0.9, 1.0)))
    for box in distractor_boxes:
        inside = (box[2:] > 0).all() and (box[:2] < 1).all()
        if rng.random() < 0.5 and inside:
            rows.append((*jittered(np.clip(box, 0, 1), 0.08), rng.uniform(0.2, 0.85)))
    if rng.random() < 0.3:
        xy, wh = rng.uniform(0, 0.7, 2), rng.uniform(0.1, 0.3, 2)
        rows.append((*np.clip(np.concatenate([xy, xy + wh]), 0, 1), rng.uniform(0.02, 0.3)))
    rows = np.array(rows, dtype=np.float32).reshape(-1, 5)
    return rows[np.argsort(-rows[:, 4], kind='stable')]
