"""What the inference API returns for one keyframe."""
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

__all__ = ['KeyframeDetections']


@dataclass
class KeyframeDetections:
    """The persons EVAD found at one keyframe and their action scores.

    Attributes:
        frame_index (int): 0-based index of the keyframe in the given frames / video.
        timestamp (float, optional): its time in seconds (None when the frame rate is unknown).
        bboxes (np.ndarray): ``(N, 4)`` float32 xyxy boxes in pixels of the given frames.
        person_scores (np.ndarray): ``(N,)`` person probabilities.
        action_scores (np.ndarray): ``(N, C)`` action scores, column ``j`` for action id
            ``class_ids[j]`` (the model's score column of that id).
        class_ids (list[int]): the label map's reported action ids (AVA: the 60 evaluated).
        class_names (list[str]): their names.
        image_size (tuple[int, int]): ``(height, width)`` of the given frames.
        extras (dict): optional inference by-products, e.g. ``'token_pruning'`` (the
            backbone's output for this clip) and ``'clip'`` (its resized frames).
    """
    frame_index: int
    timestamp: Optional[float]
    bboxes: np.ndarray
    person_scores: np.ndarray
    action_scores: np.ndarray
    class_ids: List[int]
    class_names: List[str]
    image_size: Tuple[int, int]
    extras: Dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.bboxes)

    def top_actions(self, person: int, action_thr: float = 0.,
                    max_actions: Optional[int] = None) -> List[Tuple[int, str, float]]:
        """``(id, name, score)`` of one person's actions scoring at least ``action_thr``, best
        first, at most ``max_actions``."""
        scores = self.action_scores[person]
        order = np.argsort(-scores, kind='stable')
        chosen = [(self.class_ids[j], self.class_names[j], float(scores[j])) for j in order
                  if scores[j] >= action_thr]
        return chosen if max_actions is None else chosen[:max_actions]

    def to_dict(self, action_thr: float = 0., person_thr: float = 0.) -> dict:
        """JSON-ready: keyframe, time and per person its pixel box, person score and actions
        (``id``, ``name``, ``score``) scoring at least ``action_thr``, best first. Persons
        below ``person_thr`` are left out."""
        persons = []
        for i in range(len(self)):
            if self.person_scores[i] < person_thr:
                continue
            persons.append(
                dict(
                    bbox=[round(float(v), 2) for v in self.bboxes[i]],
                    person_score=round(float(self.person_scores[i]), 4),
                    actions=[dict(id=c, name=n, score=round(s, 4))
                             for c, n, s in self.top_actions(i, action_thr)]))
        return dict(
            frame_index=int(self.frame_index),
            timestamp=None if self.timestamp is None else round(float(self.timestamp), 4),
            persons=persons)
