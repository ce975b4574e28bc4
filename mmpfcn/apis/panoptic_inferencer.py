"""``PanopticFCNInferencer``: mmdet's ``DetInferencer`` for Panoptic FCN,
from a config file or a model name of ``model-index.yml``."""
import os
import os.path as osp
import warnings
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import mmengine
import numpy as np
import torch.nn as nn
from mmdet.apis import DetInferencer
from mmdet.structures import DetDataSample
from mmdet.visualization.palette import get_palette
from mmengine.config import Config, ConfigDict
from mmengine.dataset import pseudo_collate
from mmengine.infer.infer import BaseInferencer
from mmengine.structures import InstanceData

from mmpfcn.evaluation.functional import id2rgb, write_panoptic_png
from mmpfcn.evaluation.functional.rle import masks_to_rle
from mmpfcn.utils import register_all_modules

from .inference import (
    ImageInput,
    _inference_pipeline,
    init_model,
    iter_batches,
)
from .inputs import list_images, read_image
from .output_names import OutputNamer
from .outputs import (
    category_ids_from_file,
    coco_panoptic_record,
    output_paths,
    output_stem,
    sample_segments,
)


class PanopticFCNInferencer(DetInferencer):
    """Panoptic FCN predictions, pictures and COCO-panoptic files of images.

    ``PanopticFCNInferencer(model, weights)(inputs, out_dir=DIR)`` runs as
    mmdet's :class:`~mmdet.apis.DetInferencer` and returns
    ``{'predictions': [...], 'visualization': [...]}``; with ``out_dir``
    it writes per image (see :func:`~mmpfcn.apis.outputs.output_paths`)
    ``vis/<stem>.jpg`` (the picture of
    :class:`~mmpfcn.visualization.PanopticFCNVisualizer`) and, with
    ``no_save_pred=False``, ``preds/<stem>_panoptic_seg.png`` (COCO
    panoptic: segment id ``R + 256 G + 256^2 B``) and ``preds/<stem>.json``.

    A prediction (the JSON) holds mmdet's instance keys ``labels``,
    ``scores``, ``bboxes`` and ``masks`` (RLE), the COCO-panoptic
    ``annotations`` (one, with ``segments_info``: ids, category ids,
    areas, boxes, thing scores) and ``categories``, and
    ``panoptic_seg_path`` (or, without ``out_dir``, ``panoptic_seg``: the
    (H, W, 3) RGB id image). ``<stem>`` is the input file's stem, or the
    zero-padded number of the image among those this inferencer has
    predicted for an array; ``<stem>-1``, ``<stem>-2``, ... where a file
    would replace an input or another output of the call.

    Differences from ``DetInferencer``: inputs may also be glob patterns;
    an unreadable image is named in a warning and skipped; the model is
    built by :func:`~mmpfcn.apis.init_model` (no pretrained download,
    checkpoint keys that do not fit listed, classes from the checkpoint
    or else the config's dataset).

    Args:
        model (str | Config | dict): Config file, config, or a model name
            (or alias) of the ``model-index.yml`` of the mmpfcn repository
            or installed package.
        weights (str, optional): Checkpoint path or URL. For a model name
            without it, the metafile's ``Weights`` URL is downloaded.
            Without any, the weights are random (for testing only).
        device (str, optional): Torch device; None takes mmengine's
            default (a GPU if there is one).
        scope (str): Registry scope. Defaults to ``'mmpfcn'``.
        palette (str): ``'none'`` (the checkpoint's or config's colours)
            or a name of mmdet's ``get_palette`` (``'coco'``,
            ``'random'``, ...). Defaults to ``'none'``.
        show_progress (bool): Show a progress bar. Defaults to True.
        categories (str, optional): COCO categories JSON giving the
            category ids of the class names in the written JSON (default:
            label + 1).
    """

    def __init__(self,
                 model: Union[str, Config, dict],
                 weights: Optional[str] = None,
                 device: Optional[str] = None,
                 scope: str = 'mmpfcn',
                 palette: str = 'none',
                 show_progress: bool = True,
                 categories: Optional[str] = None) -> None:
        if model is None:
            raise ValueError('PanopticFCNInferencer needs model=: a config '
                             'file, a Config or a model name')
        register_all_modules(init_default_scope=False)
        super().__init__(model=model, weights=weights, device=device,
                         scope=scope, palette=palette,
                         show_progress=show_progress)
        #: called with the input index and the message of each skipped
        #: unreadable image (None: a warning)
        self.on_skip: Optional[Callable[[int, str], None]] = None
        #: called with the message of each output renamed so as to replace
        #: no input and no other output of the call (None: a warning)
        self.on_rename: Optional[Callable[[str], None]] = None
        #: paths no output may replace besides the inputs of a call (e.g.
        #: the video whose frames are predicted)
        self.protected: List[str] = []
        self._namer = OutputNamer('', ())
        # the outputs need the instances' RLEs (JSON) and scores only: no
        # full-size bitmap per instance (memory bounded on large photos)
        fusion = getattr(self.model, 'panoptic_fusion_head', None)
        if fusion is not None and 'instance_masks' in getattr(
                fusion, 'test_cfg', {}):
            fusion.test_cfg.instance_masks = 'rle'
        self.category_ids = None
        if categories:
            self.category_ids = category_ids_from_file(
                categories, self.model.dataset_meta['classes'])

    # ------------------------------------------------------------ model

    def _load_model_from_metafile(self, model: str) -> Tuple[Config, str]:
        """Config and weights URL of a model name (or alias) of the
        ``model-index.yml`` next to the mmpfcn package (repository) or in
        its ``.mim`` folder (installed).

        Raises:
            ValueError: Naming ``model``: neither a config file nor a name
                the model index lists (the names are given).
        """
        try:
            root = BaseInferencer._get_repo_or_mim_dir(self.scope)
        except FileNotFoundError:
            root = None
        index = osp.join(root, 'model-index.yml') if root else None
        if index is None or not osp.isfile(index):
            raise ValueError(f'model {model!r} is not a config file, and '
                             'there is no model-index.yml to look it up in')
        names = []
        for entry in BaseInferencer._get_models_from_metafile(root):
            aliases = entry.get('Alias', [])
            aliases = [aliases] if isinstance(aliases, str) else aliases
            known = [entry['Name']] + list(aliases)
            if model.lower() in (name.lower() for name in known):
                weights = entry.get('Weights')
                if isinstance(weights, list):
                    weights = weights[0]
                return Config.fromfile(osp.join(root, entry['Config'])), \
                    weights
            names.append(entry['Name'])
        raise ValueError(f'model {model!r} is neither a config file nor a '
                         f'model of {index} (models: {", ".join(names)})')

    def _init_model(self, cfg: Union[Config, ConfigDict],
                    weights: Optional[str], device: str = 'cpu') -> nn.Module:
        """The model of :func:`~mmpfcn.apis.init_model`, with the palette
        asked for."""
        if weights is None:
            warnings.warn('no checkpoint given: the predictions come from '
                          'randomly initialised weights')
        if not isinstance(cfg, Config):
            cfg = Config(cfg.to_dict() if hasattr(cfg, 'to_dict') else cfg)
        model = init_model(cfg, weights, device=device)
        if self.palette != 'none':
            num_classes = len(model.dataset_meta['classes'])
            colours = get_palette(self.palette, num_classes) \
                if self.palette in ('coco', 'citys', 'voc', 'random') \
                else None
            if colours is None or len(colours) < num_classes:
                raise ValueError(
                    f'palette {self.palette!r}: expected one of coco, citys, '
                    f'voc, random, none with >= {num_classes} colours')
            model.dataset_meta['palette'] = [tuple(c) for c in colours]
        return model

    def _init_pipeline(self, cfg: Union[Config, ConfigDict]) -> object:
        """The test pipeline without loading and annotation transforms
        (see :func:`~mmpfcn.apis.build_inference_pipeline`); images are
        read by :meth:`preprocess`."""
        return _inference_pipeline(self.model)[0]

    def __call__(self, inputs, batch_size: int = 1, out_dir: str = '',
                 **kwargs) -> dict:
        """Predict (and draw, and write) ``inputs``; arguments and result
        as ``DetInferencer.__call__``.

        No file written replaces an input of the call, a path of
        :attr:`protected` or another output of the call: a stem that would
        becomes ``<stem>-1``, ``<stem>-2``, ... (told to :attr:`on_rename`).
        """
        items = self._inputs_to_list(inputs)
        self._namer = OutputNamer(
            out_dir, (), [p for p in items if isinstance(p, str)] +
            list(self.protected),
            layout=lambda stem: output_paths(out_dir, stem).values())
        return super().__call__(items, batch_size=batch_size,
                                out_dir=out_dir, **kwargs)

    def _init_collate(self, cfg: Union[Config, ConfigDict]):
        """mmengine's ``pseudo_collate``, which :meth:`preprocess` uses."""
        return pseudo_collate

    # ------------------------------------------------------------- data

    def _inputs_to_list(self, inputs) -> list:
        """Inputs as a list: every path, folder or glob pattern expanded by
        :func:`~mmpfcn.apis.list_images`, arrays kept."""
        items = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        result = []
        for item in items:
            if isinstance(item, str):
                result.extend(list_images(item))
            else:
                result.append(item)
        return result

    def preprocess(self, inputs: Sequence[ImageInput], batch_size: int = 1,
                   **kwargs):
        """Batches ``(images, data)`` of the readable inputs: the original
        (H, W, 3) BGR images and the collated pipeline outputs. An
        unreadable image is skipped, named by :attr:`on_skip`."""
        yield from iter_batches(self.model, inputs, batch_size,
                                on_skip=self.on_skip, with_images=True)

    def forward(self, inputs: dict, **kwargs) -> List[DetDataSample]:
        """The model's predictions, each given its output stem
        (``metainfo['out_stem']``)."""
        preds = super().forward(inputs, **kwargs)
        for pred in preds:
            path = pred.metainfo.get('img_path')
            stem = self._namer(output_stem(path, self.num_predicted_imgs))
            if stem in self._namer.renamed:
                message = (f'outputs of {path or "an array"} named {stem} '
                           f'({self._namer.renamed[stem]} is taken)')
                if self.on_rename is None:
                    warnings.warn(message)
                else:
                    self.on_rename(message)
            pred.set_metainfo(dict(out_stem=stem))
            self.num_predicted_imgs += 1
        return preds

    # ---------------------------------------------------------- outputs

    def visualize(self,
                  inputs: List[np.ndarray],
                  preds: List[DetDataSample],
                  return_vis: bool = False,
                  show: bool = False,
                  wait_time: int = 0,
                  draw_pred: bool = True,
                  pred_score_thr: float = 0.3,
                  no_save_vis: bool = False,
                  img_out_dir: str = '',
                  **kwargs) -> Optional[List[np.ndarray]]:
        """Pictures of the predictions, as ``DetInferencer.visualize``
        (RGB arrays), written to ``vis/<stem>.jpg`` of ``img_out_dir``.

        Args:
            inputs (list[np.ndarray]): The original BGR images (from
                :meth:`preprocess`); paths are read.
            pred_score_thr (float): Predicted things scoring below it are
                not drawn (the files keep them). Defaults to 0.3.
            Others: as ``DetInferencer.visualize``.
        """
        if no_save_vis:
            img_out_dir = ''
        if not show and not img_out_dir and not return_vis:
            return None
        if self.visualizer is None:
            raise ValueError('visualization needs a `visualizer` in the '
                             'config')
        pictures = []
        for image, pred in zip(inputs, preds):
            if isinstance(image, str):
                image = read_image(image)
            out_file = None
            if img_out_dir:
                out_file = output_paths(img_out_dir, pred.out_stem)['vis']
            self.visualizer.add_datasample(
                pred.out_stem, image[..., ::-1], pred, show=show,
                wait_time=wait_time, draw_gt=False, draw_pred=draw_pred,
                pred_score_thr=pred_score_thr, out_file=out_file)
            pictures.append(self.visualizer.get_image())
            self.num_visualized_imgs += 1
        return pictures

    def pred2dict(self, data_sample: DetDataSample,
                  pred_out_dir: str = '') -> Dict:
        """A prediction as a JSON-able dict (see the class docstring),
        written to ``preds/`` of ``pred_out_dir`` if given.

        The instance keys come from ``DetInferencer.pred2dict`` (without
        the masks, which are encoded here whatever their form: (n, H, W)
        bool or already RLE); the panoptic part replaces mmdet's raw
        ``label + id * INSTANCE_OFFSET`` PNG by a COCO-panoptic one.
        """
        meta = self.model.dataset_meta
        light = DetDataSample(metainfo=data_sample.metainfo)
        masks = None
        if 'pred_instances' in data_sample:
            pred = data_sample.pred_instances
            light.pred_instances = InstanceData(**{
                key: pred.get(key) for key in ('labels', 'scores', 'bboxes')
                if key in pred})
            masks = pred.get('masks')
        result = super().pred2dict(light, '')
        if masks is not None:
            result['masks'] = [
                dict(size=list(rle['size']),
                     counts=rle['counts'].decode() if isinstance(
                         rle['counts'], bytes) else rle['counts'])
                for rle in masks_to_rle(masks)
            ]
        if 'pred_panoptic_seg' not in data_sample:
            return result
        stem = data_sample.out_stem
        paths = output_paths(pred_out_dir, stem)
        id_map, segments = sample_segments(data_sample, meta)
        result.update(coco_panoptic_record(
            osp.basename(paths['png']), stem, segments, meta,
            self.category_ids))
        if not pred_out_dir:
            result['panoptic_seg'] = id2rgb(id_map)
            return result
        os.makedirs(osp.dirname(paths['png']), exist_ok=True)
        write_panoptic_png(paths['png'], id_map)
        result['panoptic_seg_path'] = paths['png']
        mmengine.dump(result, paths['json'])
        return result
