"""The classes of the synthetic panoptic dataset: four shapes (things, each
with its own hue) and four textured regions (stuff)."""
SYNTHETIC_CATEGORIES = [
    dict(id=1, name='disc', isthing=1, color=[220, 40, 40],
         supercategory='shape'),
    dict(id=2, name='square', isthing=1, color=[40, 60, 220],
         supercategory='shape'),
    dict(id=3, name='triangle', isthing=1, color=[235, 200, 30],
         supercategory='shape'),
    dict(id=4, name='ring', isthing=1, color=[200, 40, 200],
         supercategory='shape'),
    dict(id=5, name='sky', isthing=0, color=[150, 195, 240],
         supercategory='region'),
    dict(id=6, name='grass', isthing=0, color=[70, 140, 50],
         supercategory='region'),
    dict(id=7, name='bricks', isthing=0, color=[175, 115, 75],
         supercategory='region'),
    dict(id=8, name='water', isthing=0, color=[40, 110, 140],
         supercategory='region'),
]

THING_CATEGORIES = [c for c in SYNTHETIC_CATEGORIES if c['isthing']]
STUFF_CATEGORIES = [c for c in SYNTHETIC_CATEGORIES if not c['isthing']]


def synthetic_metainfo() -> dict:
    """The mmdet-style ``metainfo`` of the synthetic dataset (things first).

    Returns:
        dict: ``classes``, ``thing_classes``, ``stuff_classes`` (tuples of
        names) and ``palette`` (one RGB tuple per class, same order).
    """
    return dict(
        classes=tuple(c['name'] for c in SYNTHETIC_CATEGORIES),
        thing_classes=tuple(c['name'] for c in THING_CATEGORIES),
        stuff_classes=tuple(c['name'] for c in STUFF_CATEGORIES),
        palette=[tuple(c['color']) for c in SYNTHETIC_CATEGORIES])
