"""tools/analysis_tools/benchmark_detector.py runs the whole detector and prints its table."""
import json
import re
import subprocess
import sys

import pytest

from .conftest import EVAD_TINY, ROOT, run_tool


def test_benchmark_detector_prints_one_row_per_setting(tmp_path, monkeypatch):
    # the CPU peak depends on glibc's settings, so the output names them
    monkeypatch.setenv('MALLOC_MMAP_THRESHOLD_', '4194304')
    log = run_tool('analysis_tools/benchmark_detector.py', EVAD_TINY, '--shape', 4,
                   64, 96, '--modes', 'eval', 'train', '--repeats', 1, '--warmup', 0,
                   '--threads', 1, cwd=tmp_path)
    assert re.search(r'^device cpu, .* malloc MALLOC_MMAP_THRESHOLD_=4194304, load average',
                     log, re.MULTILINE), log[:2000]
    rows = re.findall(r'^\| (evad_vit-tiny\S*) \| (eval|train) \| 1 \| ([0-9.]+) \| '
                      r'([0-9.]+)x \| (\d+) \(\+(-?\d+)\) \|$', log, re.MULTILINE)
    assert [mode for _, mode, *_ in rows] == ['eval', 'train']
    for _, _, median, speedup, peak, added in rows:
        assert float(median) > 0 and float(speedup) == 1  # the first config is the reference
        assert int(peak) > int(added)


def test_benchmark_detector_times_onnxruntime_and_deletes_the_export(tmp_path, monkeypatch):
    pytest.importorskip('onnxruntime')
    temp = tmp_path / 'temp'  # where the tool's temporary export goes
    temp.mkdir()
    monkeypatch.setenv('TMPDIR', str(temp))
    log = run_tool('analysis_tools/benchmark_detector.py', EVAD_TINY, '--shape', 4, 64, 96,
                   '--modes', 'eval', '--onnx', '--repeats', 1, '--warmup', 0, '--threads', 1,
                   '--skip-memory', cwd=tmp_path)
    row = re.search(r'^\| evad_vit-tiny\S* \| onnx \| 1 \| ([0-9.]+) \| 1\.00x \(([0-9.]+)x '
                    r'PyTorch eval\) \| - \|$', log, re.MULTILINE)
    assert row is not None, log
    assert float(row[1]) > 0 and float(row[2]) > 0
    assert not list(temp.rglob('*.onnx'))


# A stand-in for the official checkout with the interface official_evad_setting.py calls (the
# official code itself needs detectron2, which CI does not have): it records what it was given.
_STAND_IN_MODELS = '''
import json, os
import torch
from torch import nn


def add_evad_config(cfg):
    cfg.added = True


class EVAD(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        assert cfg.added and cfg.MODEL.DEVICE == 'cpu' and cfg.NUM_GPUS == 0
        self.weight = nn.Parameter(torch.ones(()))

    def forward(self, inputs, targets):
        record = dict(training=self.training, clips=[[tuple(p.shape) for p in c] for c in inputs])
        if self.training:
            metas, labels = targets
            record.update(boxes=[m['boxes'] for m in metas], labels=labels)
        else:
            record.update(metas=targets)
        with open(os.environ['STAND_IN_LOG'], 'a') as log:
            log.write(json.dumps(record) + '\\n')
        if self.training:
            return dict(loss_ce=self.weight * inputs[0][0].mean(), loss_bce=self.weight * 0)
        return torch.zeros(0, 80)
'''
_STAND_IN_CONFIG = '''
from types import SimpleNamespace


class _Cfg(SimpleNamespace):
    def merge_from_file(self, path):
        self.file = path


def get_cfg():
    return _Cfg(MODEL=SimpleNamespace(DEVICE='cuda', NUM_CLASSES=80), NUM_GPUS=8)
'''


def test_benchmark_detector_times_the_official_code_with_the_same_inputs(tmp_path, monkeypatch):
    root = tmp_path / 'EVAD'
    (root / 'projects' / 'evad' / 'models').mkdir(parents=True)
    (root / 'projects' / 'evad' / 'models' / '__init__.py').write_text(_STAND_IN_MODELS)
    (root / 'slowfast' / 'config').mkdir(parents=True)
    (root / 'slowfast' / '__init__.py').write_text('')
    (root / 'slowfast' / 'config' / '__init__.py').write_text('')
    (root / 'slowfast' / 'config' / 'defaults.py').write_text(_STAND_IN_CONFIG)
    config = root / 'ViT_B_16x4_KTP.yaml'
    config.write_text('')
    log_file = tmp_path / 'calls.jsonl'
    monkeypatch.setenv('STAND_IN_LOG', str(log_file))
    log = run_tool('analysis_tools/benchmark_detector.py', '--official-root', root, config,
                   '--shape', 4, 64, 96, '--batch-sizes', 2, '--modes', 'eval', 'train',
                   '--repeats', 1, '--warmup', 0, '--threads', 1, '--skip-memory', cwd=tmp_path)
    rows = re.findall(r'^\| ViT_B_16x4_KTP \| (eval|train) \| 2 \| ([0-9.]+) \| 1\.00x \| - \|$',
                      log, re.MULTILINE)
    assert [mode for mode, _ in rows] == ['eval', 'train'], log
    calls = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert [call['training'] for call in calls] == [False, True]
    for call in calls:  # a batch of two clips, one pathway each, as the official loader's
        assert call['clips'] == [[[3, 4, 64, 96]], [[3, 4, 64, 96]]]
    assert calls[0]['metas'] == [dict(ori_height=64, ori_width=96, metadata=[[0, 902]])] * 2
    # two persons per clip at benchmark_detector's boxes, one action each
    assert calls[1]['boxes'] == [[pytest.approx([9.6, 12.8, 38.4, 57.6]),
                                  pytest.approx([48.0, 6.4, 86.4, 51.2])]] * 2
    assert [[sum(row) for row in clip] for clip in calls[1]['labels']] == [[1., 1.]] * 2


def test_benchmark_detector_names_a_wrong_official_root(tmp_path):
    result = subprocess.run(
        [sys.executable, f'{ROOT}/tools/analysis_tools/benchmark_detector.py', '--official-root',
         str(tmp_path), 'x.yaml', '--modes', 'eval', '--skip-memory'],
        capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode != 0
    assert 'is not a checkout of the official EVAD code' in result.stderr
