"""Check an AVA-format dataset before a long run.

    python tools/analysis_tools/check_dataset.py CONFIG [--split train|val|test]
        [--frames all|keyframes|none] [--max-examples 5] [--cfg-options ...]

Reads the split's dataset config (``{split}_dataloader.dataset``) and checks, naming the file
and row of every problem:

- every row of the annotation CSV parses, its action id is below ``num_classes`` (errors) and
  in the label map (a warning: AVA's training CSV has all 80 ids, its evaluation label map 60);
- every line of the exclude file is ``video_id,timestamp``;
- every ground-truth box is valid: non-finite or inverted boxes are errors; zero-area boxes and
  boxes reaching outside the frame are warnings (``EVADAVADataset`` drops / clips them, see
  ``mmevad/datasets/ava_checks.py``);
- every frame a clip needs (the config's frame sampler, training jitter included) exists, so
  every video is long enough, and decodes strictly (a truncated, empty or corrupt file is an
  error naming it; ``--frames keyframes`` decodes only the keyframes, ``none`` skips decoding);
- the proposal file (if the config has one) has an entry for every keyframe, with boxes inside
  the frame.

Prints a summary and exits with status 1 if there are errors, 0 otherwise. The checks are those
the dataset classes apply (``mmevad.datasets.ava_checks``), run over everything at once.
"""
import argparse
import inspect
import os
import os.path as osp
import pickle
import sys
from collections import Counter, defaultdict

import numpy as np
from mmengine.config import DictAction

import mmevad  # noqa: F401  (registers mmevad's datasets and transforms)
from mmevad.datasets.ava_checks import (BOX_CLIPPED, FrameDecodeError, box_problem, decode_frame,
                                        keyframe_frame_index, read_ava_csv)
from mmevad.utils import load_config


class Findings:
    """Errors and warnings by kind, with a bounded number of examples each."""

    def __init__(self, max_examples: int) -> None:
        self.max_examples = max_examples
        self.counts = {'error': Counter(), 'warning': Counter()}
        self.examples = {'error': defaultdict(list), 'warning': defaultdict(list)}

    def add(self, level: str, kind: str, message: str) -> None:
        self.counts[level][kind] += 1
        if len(self.examples[level][kind]) < self.max_examples:
            self.examples[level][kind].append(message)

    def report(self, level: str) -> str:
        lines = []
        for kind, n in sorted(self.counts[level].items()):
            lines.append(f'  {kind}: {n}')
            lines += [f'    {m}' for m in self.examples[level][kind]]
            if n > len(self.examples[level][kind]):
                lines.append(f'    ... and {n - len(self.examples[level][kind])} more')
        return '\n'.join(lines)

    @property
    def num_errors(self) -> int:
        return sum(self.counts['error'].values())


def parse_args():
    parser = argparse.ArgumentParser(description='Check an AVA-format dataset')
    parser.add_argument('config', help='config with {split}_dataloader.dataset')
    parser.add_argument('--split', default='train', choices=['train', 'val', 'test'])
    parser.add_argument('--frames', default='all', choices=['all', 'keyframes', 'none'],
                        help='decode every frame a clip needs, only the keyframes, or none '
                        '(existence and video length are always checked)')
    parser.add_argument('--max-examples', type=int, default=5, help='examples per problem kind')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='config overrides')
    return parser.parse_args()


def dataset_settings(ds_cfg) -> dict:
    """The dataset's arguments, with the class's defaults for those the config leaves out."""
    from mmaction.registry import DATASETS
    cls = DATASETS.get(ds_cfg['type'])
    if cls is None:
        raise KeyError(f"dataset type {ds_cfg['type']!r} is not registered")
    settings = {
        name: p.default
        for name, p in inspect.signature(cls.__init__).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    settings.update({k: v for k, v in ds_cfg.items() if k != 'pipeline'})
    return settings


def check_annotations(s: dict, findings: Findings):
    """Rows, ids, boxes and exclusions. Returns the valid rows and the excluded keys."""
    num_classes = s['num_classes'] if s.get('custom_classes') is None else None
    errors = []
    rows = read_ava_csv(s['ann_file'], num_classes=num_classes, errors=errors)
    for e in errors:
        findings.add('error', 'annotation rows', e)
    for key in ('label_file', 'exclude_file', 'proposal_file'):
        if s.get(key) and not osp.isfile(s[key]):
            findings.add('error', 'missing files', f'{key} {s[key]} does not exist')
            s[key] = None
    if s.get('label_file'):
        from mmaction.evaluation import read_labelmap
        with open(s['label_file']) as f:
            _, label_ids = read_labelmap(f)
        missing = Counter(r.action_id for r in rows if r.action_id not in label_ids)
        for action_id, n in sorted(missing.items()):
            findings.add('warning', 'ids not in the label map',
                         f'action id {action_id}: {n} rows of {s["ann_file"]} (trained on, '
                         f'never evaluated: {s["label_file"]} does not list it)')
    for r in rows:
        problem = box_problem(r.box)
        if problem is None:
            continue
        level = 'error' if problem in ('non-finite', 'inverted') else 'warning'
        action = 'clipped' if problem == BOX_CLIPPED else 'dropped'
        findings.add(level, f'{problem} boxes', f'{s["ann_file"]}, line {r.line}: box '
                     f'{r.box} ({r.video_id},{r.timestamp:04d}); EVADAVADataset: {action}')
    excluded = set()
    if s.get('exclude_file'):
        with open(s['exclude_file']) as f:
            for line_no, line in enumerate(f, start=1):
                cols = line.strip().split(',')
                if len(cols) != 2 or not cols[1].strip().isdigit():
                    findings.add('error', 'exclude file',
                                 f'{s["exclude_file"]}, line {line_no}: {line.strip()!r}, '
                                 f'expected video_id,timestamp')
                    continue
                excluded.add((cols[0], int(cols[1])))
    return rows, excluded


def needed_frames(s: dict, sampler_cfg: dict, keyframes) -> dict:
    """``{video_id: {frame number: [timestamps whose clip reads it]}}`` for the sampler of the
    config (run in test mode; training jitter widens each index by its range)."""
    from mmaction.registry import TRANSFORMS
    cfg = dict(sampler_cfg, test_mode=True)
    sampler = TRANSFORMS.build(cfg)
    jitter = 0 if sampler_cfg.get('test_mode', False) else sampler.frame_interval // 2
    shot_info = (0, (s['timestamp_end'] - s['timestamp_start']) * s['fps'])
    needed = defaultdict(lambda: defaultdict(list))
    for video_id, timestamp in sorted(keyframes):
        inds = sampler(dict(timestamp=timestamp, timestamp_start=s['timestamp_start'],
                            fps=s['fps'], start_index=s['start_index'],
                            shot_info=shot_info))['frame_inds']
        lo, hi = int(inds.min()) - jitter, int(inds.max()) + jitter
        for k in range(max(lo, s['start_index']), hi + 1):
            needed[video_id][k].append(timestamp)
    return needed


def check_frames(s: dict, sampler_cfg: dict, keyframes, mode: str, findings: Findings) -> str:
    """Existence (video length) and strict decoding of the frames the clips need."""
    needed = needed_frames(s, sampler_cfg, keyframes)
    root = (s.get('data_prefix') or {}).get('img') or ''
    n_needed = n_decoded = 0
    for video_id, frames in needed.items():
        frame_dir = osp.join(root, video_id)
        present = set(os.listdir(frame_dir)) if osp.isdir(frame_dir) else set()
        if not present:
            findings.add('error', 'missing videos', f'{frame_dir}: no frames (needed by '
                         f'{len({t for ts in frames.values() for t in ts})} keyframes)')
            continue
        missing = [k for k in frames if s['filename_tmpl'].format(k) not in present]
        if missing:
            first = min(missing)
            findings.add('error', 'videos too short or frames missing',
                         f'{frame_dir}: {len(missing)} frames the clips need are missing, '
                         f'first {s["filename_tmpl"].format(first)} (clip of timestamp '
                         f'{frames[first][0]}); the folder has {len(present)} files')
        to_decode = sorted(set(frames) - set(missing))
        if mode == 'keyframes':
            keys = {keyframe_frame_index(t, s['timestamp_start'], s['fps'], s['start_index'])
                    for ts in frames.values() for t in ts}
            to_decode = [k for k in to_decode if k in keys]
        n_needed += len(frames)
        if mode == 'none':
            continue
        shapes = Counter()
        for k in to_decode:
            path = osp.join(frame_dir, s['filename_tmpl'].format(k))
            with open(path, 'rb') as f:
                data = f.read()
            try:
                shapes[decode_frame(path, data, strict=True).shape] += 1
                n_decoded += 1
            except FrameDecodeError as e:
                findings.add('error', 'undecodable frames',
                             f'{e} (used by the clips of timestamps {frames[k][:3]})')
        if len(shapes) > 1:
            findings.add('error', 'frames of different sizes',
                         f'{frame_dir}: sizes {dict(shapes)}; re-extract the video')
    return f'{n_needed} frames needed by the clips, {n_decoded} decoded ({mode})'


def check_proposals(s: dict, keyframes, findings: Findings) -> str:
    path = s.get('proposal_file')
    if not path:
        return 'no proposal file'
    with open(path, 'rb') as f:
        proposals = pickle.load(f)
    covered = 0
    for video_id, timestamp in sorted(keyframes):
        key = f'{video_id},{timestamp:04d}'
        if key not in proposals:
            findings.add('error', 'keyframes without proposals',
                         f'{path}: no entry {key!r} (AVADataset would use the whole frame)')
            continue
        boxes = np.asarray(proposals[key])
        if boxes.ndim != 2 or boxes.shape[1] not in (4, 5) or len(boxes) == 0:
            findings.add('error', 'malformed proposals', f'{path}[{key!r}]: shape '
                         f'{boxes.shape}, expected (N, 4) or (N, 5) with N >= 1')
            continue
        if not np.isfinite(boxes).all() or boxes[:, :4].min() < 0 or boxes[:, :4].max() > 1:
            findings.add('error', 'proposals outside the frame',
                         f'{path}[{key!r}]: coordinates must be normalised to [0, 1]')
            continue
        covered += 1
    return f'{covered} of {len(keyframes)} keyframes have valid proposals in {path}'


def main() -> int:
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options)
    ds_cfg = cfg[f'{args.split}_dataloader'].dataset
    s = dataset_settings(ds_cfg)
    findings = Findings(args.max_examples)

    rows, excluded = check_annotations(s, findings)
    keyframes = {(r.video_id, r.timestamp) for r in rows} - excluded
    videos = {v for v, _ in keyframes}
    print(f'{args.config} [{args.split}]')
    print(f'  annotations: {len(rows)} valid rows of {s["ann_file"]}, {len(keyframes)} '
          f'keyframes (after {len(excluded)} exclusions) in {len(videos)} videos')
    samplers = [t for t in ds_cfg.get('pipeline', []) if 'AVA' in t['type'] and
                t['type'].startswith('Sample')]
    if samplers:
        print('  frames: ' + check_frames(s, samplers[0], keyframes, args.frames, findings))
    else:
        print('  frames: not checked (the pipeline has no SampleAVA* frame sampler)')
    print('  proposals: ' + check_proposals(s, keyframes, findings))
    if sum(findings.counts['warning'].values()):
        print('WARNINGS\n' + findings.report('warning'))
    if findings.num_errors:
        print(f'ERRORS ({findings.num_errors})\n' + findings.report('error'))
        print('dataset check FAILED')
        return 1
    print('dataset check passed')
    return 0


if __name__ == '__main__':
    sys.exit(main())
