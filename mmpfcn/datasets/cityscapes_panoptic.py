"""Cityscapes panoptic: the 19 evaluated classes, things first."""
from mmpfcn.registry import DATASETS

from .coco_panoptic import PanopticFCNCocoDataset

# (name, official label id, colour) of the 19 classes Cityscapes evaluates
# (cityscapesscripts' labels.py, ignoreInEval=False), things first, each
# group in label-id order.
CITYSCAPES_THINGS = (
    ('person', 24, (220, 20, 60)),
    ('rider', 25, (255, 0, 0)),
    ('car', 26, (0, 0, 142)),
    ('truck', 27, (0, 0, 70)),
    ('bus', 28, (0, 60, 100)),
    ('train', 31, (0, 80, 100)),
    ('motorcycle', 32, (0, 0, 230)),
    ('bicycle', 33, (119, 11, 32)),
)
CITYSCAPES_STUFF = (
    ('road', 7, (128, 64, 128)),
    ('sidewalk', 8, (244, 35, 232)),
    ('building', 11, (70, 70, 70)),
    ('wall', 12, (102, 102, 156)),
    ('fence', 13, (190, 153, 153)),
    ('pole', 17, (153, 153, 153)),
    ('traffic light', 19, (250, 170, 30)),
    ('traffic sign', 20, (220, 220, 0)),
    ('vegetation', 21, (107, 142, 35)),
    ('terrain', 22, (152, 251, 152)),
    ('sky', 23, (70, 130, 180)),
)


@DATASETS.register_module()
class CityscapesPanopticDataset(PanopticFCNCocoDataset):
    """Cityscapes panoptic segmentation (fine annotations), 8 thing and 11
    stuff classes with the official palette.

    Reads the COCO-panoptic files that
    ``tools/dataset_converters/cityscapes_panoptic.py`` writes from the
    official ``gtFine`` tree: ``annotations/cityscapes_panoptic_{split}.json``
    (integer image ids, category ids = Cityscapes label ids, things first,
    image ``file_name`` = ``<city>/<name>_leftImg8bit.png`` under
    ``leftImg8bit/{split}/``) and the PNGs of
    ``annotations/cityscapes_panoptic_{split}/``, which equal those of
    cityscapesscripts' ``createPanopticImgs.py``: segment id = the
    ``instanceIds`` value (``label_id * 1000 + k`` for an instance, the label
    id for a stuff region and for a crowd region of a thing class, which is
    ``iscrowd``), classes that Cityscapes does not evaluate void.

    Labels: ``person rider car truck bus train motorcycle bicycle`` (0-7),
    then ``road ... sky`` (8-18). Everything else (checks, crowd handling,
    filtering) is :class:`PanopticFCNCocoDataset`'s.
    """
    METAINFO = dict(
        classes=tuple(name for name, _, _ in CITYSCAPES_THINGS +
                      CITYSCAPES_STUFF),
        thing_classes=tuple(name for name, _, _ in CITYSCAPES_THINGS),
        stuff_classes=tuple(name for name, _, _ in CITYSCAPES_STUFF),
        palette=[color for _, _, color in CITYSCAPES_THINGS +
                 CITYSCAPES_STUFF])
