"""The synthetic figures move as labelled, and their boxes are those of the drawn figures."""
import numpy as np
import pytest

from mmevad.datasets.synthetic_ava.motion import (JOINTS, annotate_keyframes, gait_pose,
                                                  simulate_figure, window_labels)
from mmevad.datasets.synthetic_ava.render import _fixed, draw_figure
from mmevad.datasets.synthetic_ava.scene import (FPS, HAND_WAVE, JUMP, RUN, STAND, WALK, Figure,
                                                 SceneConfig, Segment, frame_index, sample_scene)

SECONDS = 4
WIDTH = 2000  # wide enough that no figure reaches a border in these tests
HAND_R = JOINTS.index('hand_r')


def make_figure(*segments, height=60.0, x0=1000.0, phase0=0.0):
    white = (255, 255, 255)
    return Figure(height=height, ground_y=140.0, x0=x0, phase0=phase0, segments=segments,
                  color=white, head_color=white)


def one(movement, **kwargs):
    """A figure doing one thing for the whole video."""
    defaults = {
        WALK: dict(speed=0.5, rate=1.8),
        RUN: dict(speed=1.2, rate=2.7),
        JUMP: dict(speed=0.0, rate=1.5, jump_height=0.25),
        STAND: dict()
    }[movement]
    return make_figure(Segment(899.5, 910.5, movement, **{**defaults, **kwargs}))


def box_motion(figure, seconds=1.0):
    """Horizontal shift of the box centre and vertical range of the box bottom over `seconds`
    from the keyframe 903, in figure heights."""
    boxes = simulate_figure(figure, SECONDS, WIDTH).boxes
    k0, k1 = frame_index(903), frame_index(903 + seconds)
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    return abs(cx[k1] - cx[k0]) / figure.height, np.ptp(boxes[k0:k1, 3]) / figure.height


def test_walk_moves_sideways_run_faster_stand_stays():
    stand_dx, _ = box_motion(one(STAND))
    walk_dx, walk_dy = box_motion(one(WALK))
    run_dx, _ = box_motion(one(RUN))
    assert stand_dx == 0
    assert 0.3 < walk_dx < 0.7 and walk_dy < 0.06  # feet stay on the ground
    assert run_dx > 2 * walk_dx


def test_jump_bounces_vertically_and_lands():
    jump_dx, jump_dy = box_motion(one(JUMP))
    assert jump_dx < 0.05 and jump_dy > 0.2
    walk = simulate_figure(one(WALK), SECONDS, WIDTH)
    jump = simulate_figure(one(JUMP), SECONDS, WIDTH)
    feet = [JOINTS.index('foot_l'), JOINTS.index('foot_r')]
    lowest_foot = jump.joints[:, feet, 1].max(axis=1)
    assert np.isclose(lowest_foot.max(), walk.joints[:, feet, 1].max(), atol=1.0)  # lands


def test_wave_moves_an_arm_a_held_arm_does_not():
    wave = simulate_figure(one(STAND, wave=True, wave_side=1), SECONDS, WIDTH)
    held = simulate_figure(one(STAND, frozen_arm=2.0, wave_side=1), SECONDS, WIDTH)
    k0, k1 = frame_index(903), frame_index(904)
    assert np.ptp(wave.joints[k0:k1, HAND_R, 1]) > 0.4 * 60  # the hand sweeps up and down
    assert np.ptp(held.joints[k0:k1], axis=0).max() == 0  # nothing moves
    hip = wave.joints[k0:k1, 0]
    assert np.ptp(hip, axis=0).max() == 0  # waving while standing does not move the body


def test_one_frame_of_standing_is_one_frame_of_walking():
    """A standing figure holds a frozen frame of a gait: one frame does not tell the action."""
    phase = 1.1
    walk = simulate_figure(one(WALK, direction=1), SECONDS, WIDTH)
    stand = simulate_figure(make_figure(Segment(899.5, 910.5, STAND, frozen_gait=WALK,
                                                frozen_phase=phase)), SECONDS, WIDTH)
    walk_at_phase = simulate_figure(
        make_figure(one(WALK, direction=1).segments[0], phase0=phase), SECONDS, WIDTH)

    def body(track, k):  # joints relative to the hip
        return track.joints[k] - track.joints[k, :1]

    np.testing.assert_allclose(body(stand, 0), body(walk_at_phase, 0), atol=1e-9)
    assert not np.allclose(body(stand, 0), body(walk, 0))  # another frame of the walk differs


def test_gait_pose_rejects_unknown_gaits():
    with pytest.raises(ValueError, match='gait must be WALK'):
        gait_pose(STAND, np.zeros(3))


def test_labels_cover_the_window_and_change_between_keyframes():
    segments = (Segment(899.5, 903.5, WALK, wave=True), Segment(903.5, 910.5, RUN))
    assert window_labels(segments, 903) == (WALK, HAND_WAVE)  # walk+wave for 1.5 of 2 s
    assert window_labels(segments, 904) == (RUN, )
    # a 1 s action in a 2 s window is not a majority: neither labelled
    short = (Segment(899.5, 902.5, STAND), Segment(902.5, 903.5, JUMP),
             Segment(903.5, 910.5, WALK))
    assert window_labels(short, 903) == ()


@pytest.mark.parametrize('seed', range(4))
def test_sampled_figures_move_as_labelled(seed):
    """Over drawn scenes: at every keyframe the hip speed (+-0.3 s, away from the cross-fades)
    matches the labelled movement."""
    scene = sample_scene(np.random.default_rng(seed), 'v', 144, 192, 10)
    tracks = [simulate_figure(f, scene.seconds, scene.width) for f in scene.figures]
    seen = set()
    for person in annotate_keyframes(scene, tracks, min_visible=0.0):
        figure, track = scene.figures[person.person_id - 1], tracks[person.person_id - 1]
        k = frame_index(person.timestamp)
        window = slice(k - 9, k + 10)
        speed = np.abs(np.diff(track.joints[window, 0, 0])).mean() * FPS / figure.height
        movement, = set(person.labels) - {HAND_WAVE}
        seen.update(person.labels)
        low, high = {STAND: (0, 1e-9), WALK: (0.3, 0.65), RUN: (0.95, 1.55),
                     JUMP: (0, 0.16)}[movement]
        assert low <= speed <= high, (person, speed)
        if HAND_WAVE in person.labels:
            assert movement in (STAND, WALK)
        if movement == JUMP:
            assert np.ptp(track.joints[window, 0, 1]) > 0.1 * figure.height
    assert len(seen) >= 3


def test_config_draws_the_requested_crowd():
    config = SceneConfig(figures_per_video=(4, 4), distractors_per_video=(0, 0),
                         figure_height=(0.5, 0.5))
    scene = sample_scene(np.random.default_rng(0), 'v', 100, 120, 6, config)
    assert len(scene.figures) == 4 and not scene.distractors
    assert all(f.height == 50 for f in scene.figures)
    assert len(scene.excluded_timestamps) == 1
    for figure in scene.figures:
        assert figure.segments[0].start < 900 and figure.segments[-1].end > 902 + 6
        durations = [s.end - s.start for s in figure.segments]
        assert min(durations) >= 2 and all((s.start - 0.5) % 1 == 0 for s in figure.segments)


@pytest.mark.parametrize('movement', [WALK, RUN, JUMP])
def test_boxes_are_tight_around_the_drawn_figure(movement):
    figure = make_figure(
        Segment(899.5, 910.5, movement, wave=movement == WALK, speed=0.4, rate=2.0,
                jump_height=0.2),
        height=70.0,
        x0=90.0)
    track = simulate_figure(figure, SECONDS, 200)
    joints = _fixed(track.joints)
    for k in range(0, 40, 7):
        canvas = np.zeros((160, 200, 3), np.uint8)
        draw_figure(canvas, figure, joints[k])
        ys, xs = np.nonzero(canvas.max(axis=2) > 127)  # half coverage: anti-aliased edges
        drawn = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        np.testing.assert_allclose(drawn, track.boxes[k], atol=1.0)
