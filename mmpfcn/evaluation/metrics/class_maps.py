"""How the model's contiguous labels map onto a dataset's category ids.

Three label spaces meet in the runner metric:

* panoptic labels ``0..C-1`` index ``dataset_meta['classes']`` (mmdet's
  convention: things first, then stuff);
* instance labels ``0..N_th-1`` index ``dataset_meta['thing_classes']``;
* semantic labels of the paper's stuff branch: 0 = all things merged,
  ``1..N_st`` = ``dataset_meta['stuff_classes']``.

Category ids are those of the annotation file, matched by name.
"""
from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np

#: Semantic label of pixels that the mIoU leaves out (void, unknown class).
SEM_IGNORE = -1


@dataclass(frozen=True)
class ClassMaps:
    """Label -> category-id lookups of one dataset.

    Attributes:
        classes (list[str]): Names of the panoptic labels.
        label2cat (np.ndarray): (C,) category id of each panoptic label.
        thing2cat (np.ndarray): (N_th,) category id of each instance label.
        cat2sem (dict[int, int]): Category id -> semantic label (0 for every
            thing category, ``1 + i`` for the i-th stuff class).
        stuff_classes (list[str]): Names of semantic labels ``1..N_st``.
        categories (list[dict]): Annotation-file categories of ``classes``.
        thing_categories (list[dict]): Those of ``thing_classes``.
    """
    classes: List[str]
    label2cat: np.ndarray
    thing2cat: np.ndarray
    cat2sem: Dict[int, int]
    stuff_classes: List[str]
    categories: List[dict]
    thing_categories: List[dict]

    @property
    def num_sem_classes(self) -> int:
        """Number of semantic labels, ``1 + N_st``."""
        return 1 + len(self.stuff_classes)

    def sem_lut(self, cat_ids: np.ndarray) -> np.ndarray:
        """Semantic label of each category id (``SEM_IGNORE`` if unknown).

        Args:
            cat_ids (np.ndarray): (K,) category ids.

        Returns:
            np.ndarray: (K,) int64 semantic labels.
        """
        return np.array([self.cat2sem.get(int(c), SEM_IGNORE)
                         for c in cat_ids], dtype=np.int64)


def build_class_maps(categories: List[dict],
                     dataset_meta: Optional[dict],
                     source: str) -> ClassMaps:
    """Match the class names of ``dataset_meta`` with annotation categories.

    Args:
        categories (list[dict]): ``categories`` of the annotation file
            (``id``, ``name``, ``isthing``).
        dataset_meta (dict, optional): The dataset's ``classes``,
            ``thing_classes`` and ``stuff_classes``. Missing entries are
            taken from ``categories``: things, then stuff, in file order
            (the order of mmdet's ``CocoPanopticDataset``).
        source (str): The annotation file, named in errors.

    Returns:
        ClassMaps: The lookups.
    """
    meta = dataset_meta or {}
    by_name = {cat['name']: cat for cat in categories}
    thing_classes = list(meta.get('thing_classes') or
                         [c['name'] for c in categories if c['isthing']])
    stuff_classes = list(meta.get('stuff_classes') or
                         [c['name'] for c in categories if not c['isthing']])
    classes = list(meta.get('classes') or thing_classes + stuff_classes)

    missing = [n for n in classes + thing_classes + stuff_classes
               if n not in by_name]
    if missing:
        raise KeyError(f'classes {sorted(set(missing))} of the dataset meta '
                       f'have no category of that name in {source}')
    wrong_kind = [n for n in thing_classes if not by_name[n]['isthing']] + [
        n for n in stuff_classes if by_name[n]['isthing']
    ]
    if wrong_kind:
        raise ValueError(f'classes {wrong_kind} are listed as the wrong kind '
                         f'(thing/stuff) compared with "isthing" in {source}')

    cat2sem = {by_name[n]['id']: 0 for n in thing_classes}
    cat2sem.update(
        {by_name[n]['id']: 1 + i for i, n in enumerate(stuff_classes)})
    return ClassMaps(
        classes=classes,
        label2cat=np.array([by_name[n]['id'] for n in classes], np.int64),
        thing2cat=np.array([by_name[n]['id'] for n in thing_classes],
                           np.int64),
        cat2sem=cat2sem,
        stuff_classes=stuff_classes,
        categories=[by_name[n] for n in classes],
        thing_categories=[by_name[n] for n in thing_classes])
