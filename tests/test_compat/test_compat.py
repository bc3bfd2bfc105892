"""Each compat fix: reproduce the upstream failure in a process without mmevad, then show that
``import mmevad`` handles it. Skipped where the installed stack does not have the defect."""
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint

from mmevad import compat


def run_python(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter (nothing imported, no fix applied)."""
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ))


# ---------------------------------------------------------------------------------------------
# Which defects a fresh interpreter has, detected by compat.py loaded on its own (importing the
# mmevad package would already apply the fixes).
DETECT_IN_FRESH_PROCESS = f"""
import importlib.util
spec = importlib.util.spec_from_file_location('standalone_compat', {compat.__file__!r})
compat = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compat)
print([name for name, defect_present, _ in compat._FIXES if defect_present()])
"""
DEFECTS = eval(run_python(DETECT_IN_FRESH_PROCESS).stdout)


def test_fixes_applied_exactly_when_defect_present():
    assert compat.applied_fixes() == DEFECTS
    compat.apply_all()  # idempotent
    assert compat.applied_fixes() == DEFECTS


# ---------------------------------------------------------------------------------------------
@pytest.mark.skipif('mmaction2-1.2.0-wheel-without-drn' not in DEFECTS,
                    reason='installed mmaction2 ships localizers/drn')
def test_mmaction_models_import_without_drn():
    upstream = run_python('import mmaction.models')
    assert upstream.returncode != 0
    assert "No module named 'mmaction.models.localizers.drn'" in upstream.stderr

    fixed = run_python(
        'import mmevad\n'
        'from mmdet.registry import MODELS as MMDET_MODELS\n'
        'from mmaction.registry import MODELS\n'
        "assert 'AVARoIHead' in MMDET_MODELS and 'BBoxHeadAVA' in MMDET_MODELS\n"
        "assert 'VisionTransformer' in MODELS\n"
        'try:\n'
        "    MODELS.build(dict(type='DRN'))\n"
        'except ImportError as e:\n'
        "    assert 'mmaction2#2714' in str(e), e\n"
        '    print(\'explained\')\n')
    assert fixed.returncode == 0, fixed.stderr
    assert 'explained' in fixed.stdout


# ---------------------------------------------------------------------------------------------
def runner_style_checkpoint(path):
    """What mmengine's Runner writes: weights plus message-hub state with HistoryBuffers and
    NumPy scalars (the objects torch>=2.6 refuses to unpickle by default)."""
    hub = MessageHub.get_instance('mmevad-compat-test')
    hub.update_scalar('train/loss', np.float64(0.5))
    torch.save(dict(meta=dict(epoch=1, iter=np.int64(10)),
                    state_dict=dict(w=torch.ones(2)),
                    message_hub=hub.state_dict()), path)


@pytest.mark.skipif('mmengine-torch.load-weights_only' not in DEFECTS,
                    reason='mmengine passes weights_only, or torch < 2.6')
def test_runner_checkpoint_loads(tmp_path):
    path = str(tmp_path / 'epoch_1.pth')
    runner_style_checkpoint(path)
    # the upstream failure: mmengine 0.10.7 calls torch.load(filename, map_location=...)
    with pytest.raises(pickle.UnpicklingError, match='Weights only load failed'):
        torch.load(path, map_location='cpu')

    ckpt = _load_checkpoint(path, map_location='cpu')  # what --resume / tools/test.py use
    assert torch.equal(ckpt['state_dict']['w'], torch.ones(2))
    assert ckpt['meta']['iter'] == 10
    assert CheckpointLoader.load_checkpoint(path)['meta']['epoch'] == 1
    # scoped to mmengine: torch.load everywhere else keeps its safe default
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, map_location='cpu')


# ---------------------------------------------------------------------------------------------
@pytest.mark.skipif('numpy2-removed-NAN-Inf' not in DEFECTS, reason='NumPy < 2 has np.NAN')
def test_ava_average_precision_of_class_without_ground_truth():
    code = ('from mmaction.evaluation.functional.ava_evaluation import metrics\n'
            'print(metrics.compute_average_precision(None, None))\n')
    upstream = run_python(code)
    assert upstream.returncode != 0
    assert "has no attribute 'NAN'" in upstream.stderr

    fixed = run_python('import mmevad\n' + code)
    assert fixed.returncode == 0, fixed.stderr
    assert fixed.stdout.strip() == 'nan'
    # scoped: numpy itself is unchanged
    assert not hasattr(np, 'NAN')


# ---------------------------------------------------------------------------------------------
DIST_WORKER = """
import os
import sys
if sys.argv[1] == 'fixed':
    import mmevad  # noqa: F401
import torch
from mmengine.dist import all_reduce, init_dist
from mmengine.runner import runner as runner_module

init_dist('pytorch', backend='gloo')
value = torch.ones(1)
all_reduce(value, op='sum')
# what Runner.wrap_model does for a distributed run
ddp = runner_module.MMDistributedDataParallel(
    module=torch.nn.Linear(2, 2), device_ids=[0], broadcast_buffers=False)
# one file per rank: the ranks' stdout would interleave
with open(os.path.join(sys.argv[2], 'rank' + os.environ['RANK']), 'w') as f:
    f.write(f'sum {int(value.item())} {type(ddp).__name__}')
"""


@pytest.mark.skipif('mmengine-distributed-needs-cuda' not in DEFECTS,
                    reason='CUDA is available, or mmengine does not call set_device')
def test_distributed_cpu_processes(tmp_path):
    script = tmp_path / 'worker.py'
    script.write_text(DIST_WORKER)

    def torchrun(mode, port):
        return subprocess.run(
            [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
             f'--master_port={port}', str(script), mode, str(tmp_path)],
            capture_output=True, text=True, timeout=300)

    upstream = torchrun('upstream', 29611)
    assert upstream.returncode != 0
    assert '_cuda_setDevice' in upstream.stderr

    fixed = torchrun('fixed', 29612)
    assert fixed.returncode == 0, fixed.stderr
    for rank in (0, 1):
        assert (tmp_path / f'rank{rank}').read_text() == (
            'sum 2 CPUTolerantDistributedDataParallel')


# ---------------------------------------------------------------------------------------------
AVA_METRIC_RUN = """
import sys
if sys.argv[1] == 'fixed':
    import mmevad  # noqa: F401
import torch
import mmaction.evaluation  # noqa: F401  (registers AVAMetric)
from mmaction.registry import METRICS

columns = int(sys.argv[2])
metric = METRICS.build(dict(type='AVAMetric', ann_file='missing_gt.csv', label_file='missing.pbtxt',
                            exclude_file='missing_excluded.csv', num_classes=81))
sample = dict(video_id='vid', timestamp=902,
              pred_instances=dict(bboxes=torch.tensor([[0.1, 0.1, 0.5, 0.9]]),
                                  scores=torch.full((1, columns), 0.5)))
try:
    metric.process([], [sample])
    metric.compute_metrics(metric.results)
except Exception as e:
    print(type(e).__name__, e)
"""


@pytest.mark.skipif('mmaction2-AVAMetric-result-file-in-working-dir' not in DEFECTS,
                    reason='installed mmaction2 no longer writes the result CSV into the cwd')
@pytest.mark.parametrize('mode', ['upstream', 'fixed'])
def test_failed_ava_evaluation_leaves_no_result_file(tmp_path, mode):
    script = tmp_path / 'metric.py'
    script.write_text(AVA_METRIC_RUN)
    run = subprocess.run([sys.executable, str(script), mode, '81'], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert 'FileNotFoundError' in run.stdout, run.stdout + run.stderr  # the label map file
    leftovers = sorted(p.name for p in tmp_path.glob('AVA_*_result.csv'))
    if mode == 'upstream':
        assert len(leftovers) == 1  # the defect
    else:
        assert leftovers == []


@pytest.mark.skipif('mmaction2-AVAMetric-result-file-in-working-dir' not in DEFECTS,
                    reason='installed mmaction2 no longer has the defect')
def test_ava_metric_names_a_class_count_mismatch(tmp_path):
    script = tmp_path / 'metric.py'
    script.write_text(AVA_METRIC_RUN)
    upstream = subprocess.run([sys.executable, str(script), 'upstream', '6'], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)
    assert upstream.stdout.strip() == 'AssertionError'  # no message at all
    fixed = subprocess.run([sys.executable, str(script), 'fixed', '6'], cwd=tmp_path,
                           capture_output=True, text=True, timeout=300)
    assert fixed.stdout.startswith('ValueError AVAMetric(num_classes=81)'), fixed.stderr
    assert 'video vid at timestamp 902' in fixed.stdout and 'predicts 6 columns' in fixed.stdout
