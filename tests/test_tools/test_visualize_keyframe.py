"""tools/analysis_tools/visualize_keyframe.py draws a keyframe's detections and kept tokens."""
import os.path as osp
import subprocess
import sys

import mmcv
import torch

from .conftest import EVAD_TINY, ROOT, run_tool
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


def test_a_checkpoint_of_another_model_names_the_keys(synthetic_workspace):
    checkpoint = synthetic_workspace / 'wrong.pth'
    random_checkpoint(checkpoint)
    state = torch.load(checkpoint, weights_only=False)
    dropped = next(key for key in state['state_dict'] if key.startswith('backbone.'))
    del state['state_dict'][dropped]
    torch.save(state, checkpoint)
    done = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools/analysis_tools/visualize_keyframe.py'), EVAD_TINY,
         str(checkpoint), '--out-dir', 'vis', '--cfg-options', 'test_dataloader.num_workers=0'],
        cwd=synthetic_workspace, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert f'the checkpoint {checkpoint} does not fit the model built from the config' in \
        done.stderr
    assert dropped in done.stderr
