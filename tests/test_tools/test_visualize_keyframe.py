"""tools/analysis_tools/visualize_keyframe.py draws a keyframe's detections and kept tokens."""
import mmcv

from .conftest import EVAD_TINY, run_tool
from .test_test_show_dir import random_checkpoint


def test_writes_the_detections_and_the_kept_token_view(synthetic_workspace):
    checkpoint = synthetic_workspace / 'random.pth'
    random_checkpoint(checkpoint)
    out_dir = synthetic_workspace / 'vis'
    log = run_tool('analysis_tools/visualize_keyframe.py', EVAD_TINY, checkpoint, '--out-dir',
                   out_dir, '--index', 1, '--min-short-side', 0, '--device', 'cpu', '--cfg-options',
                   'test_dataloader.num_workers=0',
                   cwd=synthetic_workspace)
    (detections, ) = out_dir.glob('*_detections.png')
    (kept_tokens, ) = out_dir.glob('*_kept_tokens.png')
    assert detections.name in log and kept_tokens.name in log
    assert detections.name.replace('_detections', '') == kept_tokens.name.replace(
        '_kept_tokens', '')
    # ground truth and predictions on the raw 96x128 keyframe
    assert mmcv.imread(str(detections)).shape == (96, 256, 3)
    # the quickstart backbone has 2 temporal slots: two tiles side by side, one stage
    view = mmcv.imread(str(kept_tokens))
    assert view.shape[1] > 2 * 128 and view.shape[0] > 180
