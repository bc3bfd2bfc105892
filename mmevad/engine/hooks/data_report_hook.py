from typing import Iterator

from mmaction.registry import HOOKS
from mmengine.hooks import Hook

__all__ = ['DataReportHook']


def _datasets(dataset) -> Iterator:
    """The dataset and those it wraps (mmengine's Concat/Repeat/ClassBalanced datasets)."""
    yield dataset
    for inner in getattr(dataset, 'datasets', []):
        yield from _datasets(inner)
    if getattr(dataset, 'dataset', None) is not None:
        yield from _datasets(dataset.dataset)


@HOOKS.register_module()
class DataReportHook(Hook):
    """Repeat, at the start of every training epoch, what the training dataset changed in its
    annotations (``EVADAVADataset.box_report``: clipped and dropped ground-truth boxes, counted,
    with file and row examples), so it stays visible in long logs. Logs nothing for clean
    data or datasets without a report."""

    def before_train_epoch(self, runner) -> None:
        for dataset in _datasets(runner.train_dataloader.dataset):
            report = getattr(dataset, 'box_report', None)
            if report:
                runner.logger.warning(f'epoch {runner.epoch + 1}: {report.summary()}')
