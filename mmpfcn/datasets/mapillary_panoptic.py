"""Mapillary Vistas panoptic (v1.2 and v2.0), read from the dataset's own
files, labels things first."""
import json
import os.path as osp
from typing import List, Optional

from mmengine.fileio import exists

from mmpfcn.registry import DATASETS

from .coco_panoptic import PanopticFCNCocoDataset

#: The panoptic annotation file each version ships in
#: ``{training,validation}/<version>/panoptic/``.
MAPILLARY_PANOPTIC_FILES = {'v1.2': 'panoptic_2018.json',
                            'v2.0': 'panoptic_2020.json'}

# The 65 categories of v1.2's panoptic_2018.json (37 things, 28 stuff; the
# config's 66th label, void--unlabeled, is void): (category id, name,
# config label name, isthing, colour), in file order.
MAPILLARY_V12_CATEGORIES = (
    (1, 'Bird', 'animal--bird', 1, (165, 42, 42)),
    (2, 'Ground Animal', 'animal--ground-animal', 1, (0, 192, 0)),
    (3, 'Curb', 'construction--barrier--curb', 0, (196, 196, 196)),
    (4, 'Fence', 'construction--barrier--fence', 0, (190, 153, 153)),
    (5, 'Guard Rail', 'construction--barrier--guard-rail', 0,
     (180, 165, 180)),
    (6, 'Barrier', 'construction--barrier--other-barrier', 0,
     (90, 120, 150)),
    (7, 'Wall', 'construction--barrier--wall', 0, (102, 102, 156)),
    (8, 'Bike Lane', 'construction--flat--bike-lane', 0, (128, 64, 255)),
    (9, 'Crosswalk - Plain', 'construction--flat--crosswalk-plain', 1,
     (140, 140, 200)),
    (10, 'Curb Cut', 'construction--flat--curb-cut', 0, (170, 170, 170)),
    (11, 'Parking', 'construction--flat--parking', 0, (250, 170, 160)),
    (12, 'Pedestrian Area', 'construction--flat--pedestrian-area', 0,
     (96, 96, 96)),
    (13, 'Rail Track', 'construction--flat--rail-track', 0,
     (230, 150, 140)),
    (14, 'Road', 'construction--flat--road', 0, (128, 64, 128)),
    (15, 'Service Lane', 'construction--flat--service-lane', 0,
     (110, 110, 110)),
    (16, 'Sidewalk', 'construction--flat--sidewalk', 0, (244, 35, 232)),
    (17, 'Bridge', 'construction--structure--bridge', 0, (150, 100, 100)),
    (18, 'Building', 'construction--structure--building', 0, (70, 70, 70)),
    (19, 'Tunnel', 'construction--structure--tunnel', 0, (150, 120, 90)),
    (20, 'Person', 'human--person', 1, (220, 20, 60)),
    (21, 'Bicyclist', 'human--rider--bicyclist', 1, (255, 0, 0)),
    (22, 'Motorcyclist', 'human--rider--motorcyclist', 1, (255, 0, 100)),
    (23, 'Other Rider', 'human--rider--other-rider', 1, (255, 0, 200)),
    (24, 'Lane Marking - Crosswalk', 'marking--crosswalk-zebra', 1,
     (200, 128, 128)),
    (25, 'Lane Marking - General', 'marking--general', 0, (255, 255, 255)),
    (26, 'Mountain', 'nature--mountain', 0, (64, 170, 64)),
    (27, 'Sand', 'nature--sand', 0, (230, 160, 50)),
    (28, 'Sky', 'nature--sky', 0, (70, 130, 180)),
    (29, 'Snow', 'nature--snow', 0, (190, 255, 255)),
    (30, 'Terrain', 'nature--terrain', 0, (152, 251, 152)),
    (31, 'Vegetation', 'nature--vegetation', 0, (107, 142, 35)),
    (32, 'Water', 'nature--water', 0, (0, 170, 30)),
    (33, 'Banner', 'object--banner', 1, (255, 255, 128)),
    (34, 'Bench', 'object--bench', 1, (250, 0, 30)),
    (35, 'Bike Rack', 'object--bike-rack', 1, (100, 140, 180)),
    (36, 'Billboard', 'object--billboard', 1, (220, 220, 220)),
    (37, 'Catch Basin', 'object--catch-basin', 1, (220, 128, 128)),
    (38, 'CCTV Camera', 'object--cctv-camera', 1, (222, 40, 40)),
    (39, 'Fire Hydrant', 'object--fire-hydrant', 1, (100, 170, 30)),
    (40, 'Junction Box', 'object--junction-box', 1, (40, 40, 40)),
    (41, 'Mailbox', 'object--mailbox', 1, (33, 33, 33)),
    (42, 'Manhole', 'object--manhole', 1, (100, 128, 160)),
    (43, 'Phone Booth', 'object--phone-booth', 1, (142, 0, 0)),
    (44, 'Pothole', 'object--pothole', 0, (70, 100, 150)),
    (45, 'Street Light', 'object--street-light', 1, (210, 170, 100)),
    (46, 'Pole', 'object--support--pole', 1, (153, 153, 153)),
    (47, 'Traffic Sign Frame', 'object--support--traffic-sign-frame', 1,
     (128, 128, 128)),
    (48, 'Utility Pole', 'object--support--utility-pole', 1, (0, 0, 80)),
    (49, 'Traffic Light', 'object--traffic-light', 1, (250, 170, 30)),
    (50, 'Traffic Sign (Back)', 'object--traffic-sign--back', 1,
     (192, 192, 192)),
    (51, 'Traffic Sign (Front)', 'object--traffic-sign--front', 1,
     (220, 220, 0)),
    (52, 'Trash Can', 'object--trash-can', 1, (140, 140, 20)),
    (53, 'Bicycle', 'object--vehicle--bicycle', 1, (119, 11, 32)),
    (54, 'Boat', 'object--vehicle--boat', 1, (150, 0, 255)),
    (55, 'Bus', 'object--vehicle--bus', 1, (0, 60, 100)),
    (56, 'Car', 'object--vehicle--car', 1, (0, 0, 142)),
    (57, 'Caravan', 'object--vehicle--caravan', 1, (0, 0, 90)),
    (58, 'Motorcycle', 'object--vehicle--motorcycle', 1, (0, 0, 230)),
    (59, 'On Rails', 'object--vehicle--on-rails', 0, (0, 80, 100)),
    (60, 'Other Vehicle', 'object--vehicle--other-vehicle', 1,
     (128, 64, 64)),
    (61, 'Trailer', 'object--vehicle--trailer', 1, (0, 0, 110)),
    (62, 'Truck', 'object--vehicle--truck', 1, (0, 0, 70)),
    (63, 'Wheeled Slow', 'object--vehicle--wheeled-slow', 1, (0, 0, 192)),
    (64, 'Car Mount', 'void--car-mount', 0, (32, 32, 32)),
    (65, 'Ego Vehicle', 'void--ego-vehicle', 0, (120, 10, 10)),
)


def things_first_metainfo(categories: List[dict]) -> dict:
    """``classes``, ``thing_classes``, ``stuff_classes`` and ``palette`` of
    COCO-panoptic categories (``name``, ``isthing``, ``color``), things
    first, each group in file order."""
    things = [c for c in categories if c['isthing']]
    stuff = [c for c in categories if not c['isthing']]
    return dict(
        classes=tuple(c['name'] for c in things + stuff),
        thing_classes=tuple(c['name'] for c in things),
        stuff_classes=tuple(c['name'] for c in stuff),
        palette=[tuple(c['color']) for c in things + stuff])


@DATASETS.register_module()
class MapillaryVistasPanopticDataset(PanopticFCNCocoDataset):
    """Mapillary Vistas panoptic segmentation, read from the dataset's own
    layout (no conversion)::

        <data_root>/config_v1.2.json, config_v2.0.json
        <data_root>/{training,validation}/images/<key>.jpg
        <data_root>/{training,validation}/v1.2/panoptic/panoptic_2018.json
        <data_root>/{training,validation}/v1.2/panoptic/<key>.png
        <data_root>/{training,validation}/v2.0/panoptic/panoptic_2020.json
        <data_root>/{training,validation}/v2.0/panoptic/<key>.png

    Image ids stay the dataset's string keys (the metric handles them).
    The JSON lists categories in the label order of ``config_*.json``
    (things and stuff mixed); the labels here are things first, matched by
    name, as :class:`PanopticFCNCocoDataset` does for any file.

    - ``version='v1.2'`` (the paper's): the 65 classes of
      ``panoptic_2018.json``, 37 things then 28 stuff (:attr:`METAINFO`).
    - ``version='v2.0'``: the classes ``panoptic_2020.json`` ships, taken
      from the file (things first) unless ``metainfo`` names them.

    Checks (errors name the file and what was expected where): the
    annotation file exists and is the one of ``version``
    (``panoptic_2018.json`` for v1.2, ``panoptic_2020.json`` for v2.0); the
    version's label config ``config_<version>.json`` is at ``data_root``;
    every category's ``supercategory`` (its config label name) is a label of
    that config, which tells the versions apart (v2.0 splits and renames
    v1.2 labels).

    Args:
        version (str): ``'v1.2'`` or ``'v2.0'``. Defaults to ``'v1.2'``.
        *args, **kwargs: As :class:`PanopticFCNCocoDataset`.
    """
    METAINFO = things_first_metainfo([
        dict(name=name, isthing=isthing, color=color)
        for _, name, _, isthing, color in MAPILLARY_V12_CATEGORIES
    ])
    # the JSON lists categories in config order; matching by name is meant
    warn_category_order = False

    def __init__(self, *args, version: str = 'v1.2',
                 metainfo: Optional[dict] = None, **kwargs) -> None:
        if version not in MAPILLARY_PANOPTIC_FILES:
            raise ValueError(
                f'{type(self).__name__}: version must be one of '
                f'{sorted(MAPILLARY_PANOPTIC_FILES)}, got {version!r}')
        self.version = version
        if version != 'v1.2' and metainfo is None:
            # filled in from the annotation file when it is loaded
            metainfo = dict(classes=(), thing_classes=(), stuff_classes=(),
                            palette=[])
        super().__init__(*args, metainfo=metainfo, **kwargs)

    def load_data_list(self) -> List[dict]:
        """Check the version's files, then load as the base class does."""
        expected = MAPILLARY_PANOPTIC_FILES[self.version]
        where = (f'Mapillary Vistas {self.version} panoptic annotations are '
                 f'{{training,validation}}/{self.version}/panoptic/'
                 f'{expected} under data_root')
        if not exists(self.ann_file, backend_args=self.backend_args):
            raise FileNotFoundError(f'{self.ann_file} does not exist; {where}'
                                    f' ({self.data_root!r})')
        name = osp.basename(self.ann_file)
        other = [v for v, f in MAPILLARY_PANOPTIC_FILES.items()
                 if f == name and v != self.version]
        if other:
            raise ValueError(
                f'{self.ann_file} is the {other[0]} annotation file but the '
                f"dataset has version='{self.version}'; {where}")
        return super().load_data_list()

    def _config_labels(self) -> set:
        """Label names of ``config_<version>.json`` at the data root."""
        config = osp.join(self.data_root or '', f'config_{self.version}.json')
        if not osp.isfile(config):
            raise FileNotFoundError(
                f'{config} does not exist: the label config of Mapillary '
                f'Vistas {self.version} is expected at data_root (the folder '
                'holding config_v1.2.json, config_v2.0.json, training/ and '
                'validation/)')
        with open(config) as f:
            labels = json.load(f).get('labels')
        if not isinstance(labels, list) or not all(
                isinstance(lb, dict) and 'name' in lb for lb in labels):
            raise ValueError(f'{config} has no "labels" list of named '
                             'labels: expected a Mapillary Vistas config')
        return {lb['name'] for lb in labels}

    def _things_first_cat_ids(self, categories: List[dict]) -> List[int]:
        """Check the categories against the version's config (and take the
        classes from them for v2.0), then order them things first."""
        config_names = self._config_labels()
        foreign = [c.get('supercategory') for c in categories
                   if c.get('supercategory') not in config_names]
        if foreign:
            raise ValueError(
                f'{self.ann_file}: categories with labels {foreign[:5]}'
                f'{" ..." if len(foreign) > 5 else ""} are not in '
                f'config_{self.version}.json: the annotations are not '
                f'Mapillary Vistas {self.version} (label files of another '
                'version?)')
        if not self._metainfo.get('classes'):
            self._metainfo.update(things_first_metainfo(categories))
        return super()._things_first_cat_ids(categories)
