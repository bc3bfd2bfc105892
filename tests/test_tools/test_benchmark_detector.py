"""tools/analysis_tools/benchmark_detector.py runs the whole detector and prints its table."""
import re

import pytest

from .conftest import EVAD_TINY, run_tool


def test_benchmark_detector_prints_one_row_per_setting(tmp_path):
    log = run_tool('analysis_tools/benchmark_detector.py', EVAD_TINY, '--shape', 4,
                   64, 96, '--modes', 'eval', 'train', '--repeats', 1, '--warmup', 0,
                   '--threads', 1, cwd=tmp_path)
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
