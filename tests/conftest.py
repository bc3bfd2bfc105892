"""Shared fixtures. ``import mmevad`` registers everything once for the whole session."""
import mmevad  # noqa: F401
import pytest
from mmengine.registry import DefaultScope

# Tests build modules the way the runner does: inside the mmaction default scope.
if not DefaultScope.check_instance_created('mmevad-tests'):
    DefaultScope.get_instance('mmevad-tests', scope_name='mmaction')


@pytest.fixture(scope='session')
def synthetic_ava(tmp_path_factory):
    """A small synthetic AVA dataset shared by the session: 2 train + 1 val videos with 4
    annotated seconds each at 128x96, with proposals
    (:class:`mmevad.datasets.SyntheticAVAFiles`)."""
    from mmevad.datasets import generate_synthetic_ava
    return generate_synthetic_ava(
        str(tmp_path_factory.mktemp('synthetic_ava')),
        num_train_videos=2,
        num_val_videos=1,
        seconds=4,
        height=96,
        width=128,
        seed=0)


@pytest.fixture(scope='session')
def synthetic_tubes(tmp_path_factory):
    """A small synthetic tube dataset shared by the session: 2 train + 1 test videos of 91
    frames at 128x96 (:class:`mmevad.datasets.SyntheticTubeFiles`), not yet converted."""
    from mmevad.datasets import generate_synthetic_tubes
    return generate_synthetic_tubes(
        str(tmp_path_factory.mktemp('synthetic_tubes')),
        num_train_videos=2,
        num_val_videos=1,
        seconds=1,
        height=96,
        width=128,
        seed=0)
