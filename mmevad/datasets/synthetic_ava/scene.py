"""What one synthetic AVA video contains, drawn at random: no motion, no pixels.

A :class:`Scene` holds stick figures (:class:`Figure`, each with a sequence of action
:class:`Segment` objects), non-person :class:`Distractor` shapes, the excluded keyframes and a
seed for the background texture. :func:`sample_scene` draws one from a NumPy generator.
:mod:`.motion` turns a scene into positions, boxes and labels over time; :mod:`.render` turns it
into pixels.

Time follows AVA as read by mmaction2's ``AVADataset`` (``timestamp_start=900``, ``fps=30``,
``start_index=1``): frame file ``img_{k:05d}.jpg`` (k from 1) shows video time
``900 + (k - 1) / 30`` seconds, and keyframes are annotated at 1 Hz from timestamp 902.
"""
import colorsys
import dataclasses
import math
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

import numpy as np

__all__ = [
    'FPS', 'TIMESTAMP_START', 'FIRST_KEYFRAME', 'JUMP', 'RUN', 'STAND', 'WALK', 'HAND_WAVE',
    'ACTION_NAMES', 'CLASS_IDS', 'MOVEMENTS', 'SceneConfig', 'Segment', 'Figure', 'Distractor',
    'Scene', 'num_frames', 'frame_times', 'keyframe_timestamps', 'frame_index', 'sample_scene'
]

FPS = 30
TIMESTAMP_START = 900
FIRST_KEYFRAME = 902

# Real AVA v2.2 action ids and names (ava_action_list_v2.2[_for_activitynet_2019].pbtxt).
JUMP, RUN, STAND, WALK, HAND_WAVE = 7, 10, 12, 14, 69
ACTION_NAMES: Dict[int, str] = {
    JUMP: 'jump/leap',
    RUN: 'run/jog',
    STAND: 'stand',
    WALK: 'walk',
    HAND_WAVE: 'hand wave',
}
CLASS_IDS: Tuple[int, ...] = tuple(sorted(ACTION_NAMES))
# At any time a figure does exactly one of these (as every AVA person has one pose class);
# HAND_WAVE comes on top of STAND or WALK.
MOVEMENTS: Tuple[int, ...] = (STAND, WALK, RUN, JUMP)
WAVE_MOVEMENTS = (STAND, WALK)

# Ranges the per-segment motion parameters are drawn from. Speeds are in figure heights per
# second, so near (big) and far (small) figures move alike on screen relative to their size.
WALK_SPEED, WALK_RATE = (0.35, 0.6), (1.5, 2.0)  # rate: gait cycles (two steps) per second
RUN_SPEED, RUN_RATE = (1.0, 1.5), (2.4, 3.0)
JUMP_DRIFT, JUMP_RATE, JUMP_HEIGHT = (0.0, 0.15), (1.3, 1.8), (0.15, 0.3)  # rate: bounces/s
WAVE_RATE, WAVE_CENTER, WAVE_AMP = (1.6, 2.4), (1.3, 1.6), (1.05, 1.3)  # arm angle in rad
LIMB_SWING_SCALE = (0.85, 1.15)


def num_frames(seconds: int) -> int:
    """Frames a video with ``seconds`` annotated keyframes needs: it covers 900 s to one second
    after its last keyframe, which is every frame ``SampleAVAFrames(16, 4)`` can read (the
    clip spans keyframe -34 .. +29 frames with training jitter)."""
    return FPS * (seconds + 2) + 1


def frame_times(seconds: int) -> np.ndarray:
    """Video time in seconds of every frame, ``(F,)`` with ``F = num_frames(seconds)``."""
    return TIMESTAMP_START + np.arange(num_frames(seconds)) / FPS


def keyframe_timestamps(seconds: int) -> np.ndarray:
    """Annotated timestamps ``902, 903, ...``, ``(seconds,)`` int."""
    return np.arange(FIRST_KEYFRAME, FIRST_KEYFRAME + seconds)


def frame_index(timestamp: float) -> int:
    """0-based index into :func:`frame_times` of the frame showing ``timestamp`` (the file is
    ``img_{index + 1:05d}.jpg``)."""
    return int(round((timestamp - TIMESTAMP_START) * FPS))


@dataclass(frozen=True)
class SceneConfig:
    """How crowded, varied and hard the synthetic videos are. The defaults are the documented
    default dataset; keep them fixed so results stay comparable.

    Args:
        figures_per_video (tuple[int, int]): inclusive range of person figures per video.
        figure_height (tuple[float, float]): range of a figure's standing height, as a fraction
            of the frame height.
        distractors_per_video (tuple[int, int]): inclusive range of moving non-person shapes.
        segment_seconds (tuple[int, int]): inclusive range of how long one action lasts (s).
        movement_probs (tuple[float, ...]): probabilities of stand, walk, run, jump per segment.
        wave_prob (float): probability that a stand or walk segment also waves a hand.
        exclude_fraction (float): fraction of keyframes per video listed as excluded (at least
            one per video of 3 s or more).
    """
    figures_per_video: Tuple[int, int] = (2, 3)
    figure_height: Tuple[float, float] = (0.35, 0.8)
    distractors_per_video: Tuple[int, int] = (1, 3)
    segment_seconds: Tuple[int, int] = (2, 5)
    movement_probs: Tuple[float, float, float, float] = (0.3, 0.3, 0.2, 0.2)
    wave_prob: float = 0.4
    exclude_fraction: float = 0.1

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first field that cannot produce a valid dataset."""
        for name in ('figures_per_video', 'distractors_per_video', 'segment_seconds'):
            lo, hi = getattr(self, name)
            if not 0 <= lo <= hi:
                raise ValueError(f'SceneConfig.{name}={(lo, hi)} must be a range 0 <= lo <= hi')
        if self.figures_per_video[0] < 1:
            raise ValueError('SceneConfig.figures_per_video must start at 1 or more: every '
                             'annotated keyframe needs a person')
        if self.segment_seconds[0] < 2:
            raise ValueError('SceneConfig.segment_seconds must start at 2 or more, so the action '
                             'at a keyframe fills most of its +-1 s label window')
        lo, hi = self.figure_height
        if not 0.1 <= lo <= hi <= 0.9:
            raise ValueError(f'SceneConfig.figure_height={(lo, hi)} must lie in [0.1, 0.9]')
        probs = np.asarray(self.movement_probs, float)
        if probs.shape != (4, ) or (probs < 0).any() or not math.isclose(probs.sum(), 1.0):
            raise ValueError(f'SceneConfig.movement_probs={self.movement_probs} must be 4 '
                             'non-negative numbers (stand, walk, run, jump) summing to 1')
        if not (0 <= self.wave_prob <= 1 and 0 <= self.exclude_fraction < 1):
            raise ValueError('SceneConfig.wave_prob must be in [0, 1] and exclude_fraction in '
                             '[0, 1)')


@dataclass(frozen=True)
class Segment:
    """One action of one figure, from ``start`` to ``end`` (video seconds).

    Args:
        start (float): begin, in video seconds.
        end (float): end, in video seconds.
        movement (int): one of :data:`MOVEMENTS`.
        wave (bool): also waves one hand (only with STAND or WALK).
        direction (int): +1 moving right, -1 left (STAND keeps the facing it had).
        speed (float): horizontal speed in figure heights per second.
        rate (float): gait cycles per second (WALK, RUN) or bounces per second (JUMP).
        swing (float): scale of the limb swing.
        jump_height (float): JUMP: height of the feet at the top of a bounce, in figure heights.
        wave_side (int): waving arm, 0 left or 1 right.
        wave_rate (float): waves per second.
        wave_center (float): mean angle of the waving arm (rad, 0 = hanging down).
        wave_amp (float): amplitude of the waving arm (rad); center - amp is near hanging down,
            so the arm passes through a neutral pose.
        wave_phase (float): phase of the waving (rad).
        frozen_gait (int): STAND: the pose is a frozen frame of this gait (WALK, RUN or JUMP),
            so one frame of a standing figure looks like one frame of a moving one.
        frozen_phase (float): STAND: gait phase of that frozen frame (rad).
        frozen_arm (float, optional): STAND without wave: a held (not moving) raised arm angle on
            ``wave_side``, so a raised arm alone does not mean waving.
    """
    start: float
    end: float
    movement: int
    wave: bool = False
    direction: int = 1
    speed: float = 0.0
    rate: float = 0.0
    swing: float = 1.0
    jump_height: float = 0.0
    wave_side: int = 1
    wave_rate: float = 2.0
    wave_center: float = 1.45
    wave_amp: float = 1.2
    wave_phase: float = 0.0
    frozen_gait: int = WALK
    frozen_phase: float = 0.0
    frozen_arm: Optional[float] = None

    @property
    def labels(self) -> Tuple[int, ...]:
        """AVA action ids of this segment, sorted."""
        return tuple(sorted((self.movement, HAND_WAVE) if self.wave else (self.movement, )))


@dataclass(frozen=True)
class Figure:
    """A stick figure: head, torso, two-part arms and legs.

    Args:
        height (float): standing height in pixels.
        ground_y (float): y of the feet when standing on the ground (pixels).
        x0 (float): hip x at the first frame (pixels).
        phase0 (float): gait phase at the first frame (rad).
        segments (tuple[Segment]): consecutive actions covering the whole video.
        color (tuple[int, int, int]): BGR colour of torso and limbs.
        head_color (tuple[int, int, int]): BGR colour of the head.
    """
    height: float
    ground_y: float
    x0: float
    phase0: float
    segments: Tuple[Segment, ...]
    color: Tuple[int, int, int] = (40, 40, 40)
    head_color: Tuple[int, int, int] = (40, 40, 40)

    @property
    def limb_thickness(self) -> int:
        """Line width of arms and legs in pixels."""
        return max(2, int(round(0.055 * self.height)))

    @property
    def torso_thickness(self) -> int:
        """Line width of the torso in pixels."""
        return max(3, int(round(0.10 * self.height)))


@dataclass(frozen=True)
class Distractor:
    """A moving shape that is not a person.

    Args:
        kind (str): 'box' (rotating rectangle), 'triangle', 'ball' (bouncing disc) or
            'pendulum' (a swinging bar, limb-like).
        color (tuple[int, int, int]): BGR colour.
        size (float): side / diameter / bar length in pixels.
        aspect (float): height over width of a box or triangle.
        x0, y0 (float): centre (pendulum: pivot) at the first frame (pixels).
        vx, vy (float): velocity in pixels per second (bounces off the frame borders).
        bounce (float): ball: bounce height in pixels.
        rate (float): ball: bounces per second; pendulum: swings per second.
        angle0 (float): initial rotation (rad).
        spin (float): box / triangle: rotation speed (rad/s); pendulum: swing amplitude (rad).
        thickness (int): pendulum bar width in pixels.
        depth (float): drawing order among figures (a figure's depth is its ``ground_y``).
    """
    kind: str
    color: Tuple[int, int, int]
    size: float
    aspect: float
    x0: float
    y0: float
    vx: float
    vy: float
    bounce: float
    rate: float
    angle0: float
    spin: float
    thickness: int
    depth: float


@dataclass(frozen=True)
class Scene:
    """Everything random about one video.

    Args:
        video_id (str): AVA video id (also the frame folder name).
        height, width (int): frame size in pixels.
        seconds (int): number of annotated keyframes (902, 903, ...).
        figures (tuple[Figure]): the persons; ``person_id`` in the CSV is the index + 1.
        distractors (tuple[Distractor]): non-person moving shapes.
        excluded_timestamps (tuple[int]): keyframes listed as excluded (no ground truth); the
            video shows a camera flash there, the reason such a frame would not be annotated.
        texture_seed (int): seed of the background texture and sensor noise.
    """
    video_id: str
    height: int
    width: int
    seconds: int
    figures: Tuple[Figure, ...]
    distractors: Tuple[Distractor, ...]
    excluded_timestamps: Tuple[int, ...]
    texture_seed: int


def random_color(rng: np.random.Generator) -> Tuple[int, int, int]:
    """A BGR colour that is either dark or bright, so it stands out from the mid-grey-ish
    backgrounds of :func:`.render.make_background` in most places (not everywhere)."""
    value = rng.uniform(0.08, 0.3) if rng.random() < 0.5 else rng.uniform(0.8, 1.0)
    r, g, b = colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.15, 0.9), value)
    return int(round(b * 255)), int(round(g * 255)), int(round(r * 255))


def _sample_segment(rng: np.random.Generator, start: float, end: float, movement: int,
                    wave: bool, direction: int, max_jump: float) -> Segment:
    """Draw the motion parameters of one action."""
    speed = rate = jump_height = 0.0
    if movement == WALK:
        speed, rate = rng.uniform(*WALK_SPEED), rng.uniform(*WALK_RATE)
    elif movement == RUN:
        speed, rate = rng.uniform(*RUN_SPEED), rng.uniform(*RUN_RATE)
    elif movement == JUMP:
        speed, rate = rng.uniform(*JUMP_DRIFT), rng.uniform(*JUMP_RATE)
        jump_height = min(rng.uniform(*JUMP_HEIGHT), max_jump)
    frozen_arm = None
    if movement == STAND and not wave and rng.random() < 0.35:
        frozen_arm = rng.uniform(0.0, WAVE_CENTER[1] + WAVE_AMP[1])
    return Segment(
        start=start,
        end=end,
        movement=movement,
        wave=wave,
        direction=direction,
        speed=speed,
        rate=rate,
        swing=rng.uniform(*LIMB_SWING_SCALE),
        jump_height=jump_height,
        wave_side=int(rng.integers(2)),
        wave_rate=rng.uniform(*WAVE_RATE),
        wave_center=rng.uniform(*WAVE_CENTER),
        wave_amp=rng.uniform(*WAVE_AMP),
        wave_phase=rng.uniform(0, 2 * np.pi),
        frozen_gait=(WALK, RUN, JUMP)[int(rng.integers(3))],
        frozen_phase=rng.uniform(0, 2 * np.pi),
        frozen_arm=frozen_arm)


def sample_segments(rng: np.random.Generator, seconds: int, config: SceneConfig,
                    max_jump: float = 1.0) -> Tuple[Segment, ...]:
    """Draw consecutive actions covering a whole video.

    Boundaries lie on half seconds (between keyframes) and actions last at least 2 s, so the
    action at a keyframe fills at least 1.5 s of its +-1 s label window. Consecutive segments
    differ in movement or waving where the probabilities allow it.

    Args:
        rng (np.random.Generator): random source.
        seconds (int): annotated seconds of the video.
        config (SceneConfig): durations and action probabilities.
        max_jump (float): largest jump height (figure heights) that keeps the head in frame.

    Returns:
        tuple[Segment]: from before the first frame to after the last one.
    """
    t = TIMESTAMP_START - 0.5
    video_end = TIMESTAMP_START + (num_frames(seconds) - 1) / FPS
    direction = 1 if rng.random() < 0.5 else -1
    probs = np.asarray(config.movement_probs, float)
    segments, previous = [], None
    while t < video_end:
        duration = int(rng.integers(config.segment_seconds[0], config.segment_seconds[1] + 1))
        for _ in range(8):  # redraw a repeat of the previous action (bounded: probs may force it)
            movement = MOVEMENTS[int(rng.choice(len(MOVEMENTS), p=probs))]
            wave = bool(movement in WAVE_MOVEMENTS and rng.random() < config.wave_prob)
            if (movement, wave) != previous:
                break
        if movement != STAND and rng.random() < 0.5:
            direction = -direction
        segment = _sample_segment(rng, t, t + duration, movement, wave, direction, max_jump)
        if previous is not None and movement == STAND == segments[-1].movement:
            # standing on: keep the same frozen pose and held arm, only waving changes
            last = segments[-1]
            segment = dataclasses.replace(
                segment,
                frozen_gait=last.frozen_gait,
                frozen_phase=last.frozen_phase,
                wave_side=last.wave_side,
                frozen_arm=None if wave else last.frozen_arm)
        segments.append(segment)
        previous = (movement, wave)
        t += duration
    return tuple(segments)


def _sample_figure(rng: np.random.Generator, height: int, width: int, seconds: int,
                   config: SceneConfig) -> Figure:
    fig_h = rng.uniform(*config.figure_height) * height
    # feet in the lower half, head (0.95 h above the feet) inside the frame when standing
    lowest_ground = min(0.98 * height, max(0.5 * height, 0.95 * fig_h + 0.02 * height))
    ground_y = rng.uniform(lowest_ground, 0.98 * height)
    max_jump = max((ground_y - 0.95 * fig_h) / fig_h, 0.12)
    color = random_color(rng)
    head_color = color if rng.random() < 0.5 else random_color(rng)
    return Figure(
        height=fig_h,
        ground_y=ground_y,
        x0=rng.uniform(0.1, 0.9) * width,
        phase0=rng.uniform(0, 2 * np.pi),
        segments=sample_segments(rng, seconds, config, max_jump),
        color=color,
        head_color=head_color)


def _sample_distractor(rng: np.random.Generator, height: int, width: int) -> Distractor:
    kind = ('box', 'triangle', 'ball', 'pendulum')[int(rng.integers(4))]
    moving = rng.random() < 0.75
    speed = rng.uniform(0.1, 0.8) * height if moving else 0.0
    heading = rng.uniform(0, 2 * np.pi)
    size = rng.uniform(0.1, 0.35) * height
    return Distractor(
        kind=kind,
        color=random_color(rng),
        size=size,
        aspect=rng.uniform(0.3, 2.5),
        x0=rng.uniform(0.1, 0.9) * width,
        y0=rng.uniform(0.2, 0.9) * height,
        vx=speed * np.cos(heading),
        vy=0.3 * speed * np.sin(heading),
        bounce=rng.uniform(0.1, 0.3) * height,
        rate=rng.uniform(0.8, 2.5),
        angle0=rng.uniform(0, 2 * np.pi),
        spin=rng.uniform(-2.0, 2.0) if kind != 'pendulum' else rng.uniform(0.5, 1.2),
        thickness=int(rng.integers(2, 7)),
        depth=rng.uniform(0, height))


def sample_scene(rng: np.random.Generator,
                 video_id: str,
                 height: int,
                 width: int,
                 seconds: int,
                 config: SceneConfig = SceneConfig()) -> Scene:
    """Draw everything random about one video.

    Args:
        rng (np.random.Generator): random source; the scene is a function of its state only.
        video_id (str): AVA video id.
        height, width (int): frame size in pixels.
        seconds (int): number of annotated keyframes.
        config (SceneConfig): crowding and action statistics.

    Returns:
        Scene: figures, distractors, excluded keyframes and the texture seed.
    """
    n_fig = int(rng.integers(config.figures_per_video[0], config.figures_per_video[1] + 1))
    figures = tuple(_sample_figure(rng, height, width, seconds, config) for _ in range(n_fig))
    n_dis = int(rng.integers(config.distractors_per_video[0],
                             config.distractors_per_video[1] + 1))
    distractors = tuple(_sample_distractor(rng, height, width) for _ in range(n_dis))
    n_excluded = int(round(config.exclude_fraction * seconds))
    if config.exclude_fraction > 0 and seconds >= 3:
        n_excluded = max(n_excluded, 1)
    excluded = rng.choice(keyframe_timestamps(seconds), size=n_excluded, replace=False)
    return Scene(
        video_id=video_id,
        height=height,
        width=width,
        seconds=seconds,
        figures=figures,
        distractors=distractors,
        excluded_timestamps=tuple(sorted(int(t) for t in excluded)),
        texture_seed=int(rng.integers(2**31)))
