"""Things-first labels of a panoptic dataset: check a dataset's metainfo
(``classes``, ``thing_classes``, ``stuff_classes``, ``palette``) against the
annotation file's categories and order the labels things first, each group in
file order, as Panoptic FCN's targets assume (label < num_things <=>
thing)."""
import logging

from mmengine.logging import print_log

# labels are stored in uint8 semantic maps where 255 means void
MAX_NUM_CLASSES = 255


def things_first_cat_ids(categories: list[dict], metainfo: dict,
                         ann_file: str, dataset_name: str,
                         warn_order: bool = True) -> list[int]:
    """Check the metainfo against the JSON categories and order them.

    Args:
        categories (list[dict]): the JSON's ``categories`` (``id``,
            ``name``, ``isthing``), in file order.
        metainfo (dict): The dataset's metainfo; updated in place to the
            things-first order when it differs.
        ann_file (str): The annotation file, named in the errors.
        dataset_name (str): The dataset class, named in the errors.
        warn_order (bool): Warn when the file does not list its thing
            categories first. Defaults to True.

    Returns:
        list[int]: the category id of each label, things first.
    """
    for cat in categories:
        missing = [k for k in ('id', 'name', 'isthing') if k not in cat]
        if missing:
            raise ValueError(f'{ann_file}: category {cat} lacks '
                             f'field(s) {missing}')
    names = [cat['name'] for cat in categories]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f'{ann_file}: category names {repeated} '
                         'appear more than once')

    classes = list(metainfo['classes'])
    things = list(metainfo.get('thing_classes', ()))
    stuff = list(metainfo.get('stuff_classes', ()))
    if sorted(things + stuff) != sorted(classes) or len(set(classes)) != \
            len(classes):
        raise ValueError(
            f'metainfo of {dataset_name} for {ann_file}: '
            '"thing_classes" and "stuff_classes" must split "classes" '
            f'into two disjoint lists, got {len(things)} thing, '
            f'{len(stuff)} stuff and {len(classes)} class names')
    if len(classes) > MAX_NUM_CLASSES:
        raise ValueError(
            f'{ann_file}: {len(classes)} classes do not fit the '
            f'uint8 semantic maps (at most {MAX_NUM_CLASSES}; 255 is '
            'void)')

    by_name = {cat['name']: cat for cat in categories}
    absent = [n for n in classes if n not in by_name]
    if absent:
        raise ValueError(f'metainfo classes {absent} are not categories '
                         f'of {ann_file}')
    wrong = ([n for n in things if not by_name[n]['isthing']] +
             [n for n in stuff if by_name[n]['isthing']])
    if wrong:
        raise ValueError(
            f'metainfo and {ann_file} disagree on whether {wrong} '
            'are things: "thing_classes" must be the categories with '
            'isthing=1')

    wanted = set(classes)
    in_file = [cat for cat in categories if cat['name'] in wanted]
    ordered = ([cat for cat in in_file if cat['isthing']] +
               [cat for cat in in_file if not cat['isthing']])
    ordered_names = [cat['name'] for cat in ordered]
    label_to_id = {i: cat['id'] for i, cat in enumerate(ordered)}
    if in_file != ordered and warn_order:
        print_log(
            f'{ann_file} does not list its thing categories first; '
            'labels are things first, each group in file order (label: '
            f'category id) {label_to_id}. Tools that number categories '
            "in file order (e.g. mmdet's CocoPanopticMetric) disagree; "
            'map labels with dataset.cat_ids.',
            logger='current',
            level=logging.WARNING)
    stuff_names = ordered_names[len(things):]
    if (ordered_names, ordered_names[:len(things)], stuff_names) != (
            classes, things, stuff):
        print_log(
            f'metainfo classes of {ann_file} are reordered to the '
            f'labels: {ordered_names}',
            logger='current',
            level=logging.WARNING)
        palette = metainfo.get('palette')
        if palette is not None and len(palette) == len(classes):
            metainfo['palette'] = [
                palette[classes.index(n)] for n in ordered_names
            ]
        metainfo['classes'] = tuple(ordered_names)
        metainfo['thing_classes'] = tuple(ordered_names[:len(things)])
        metainfo['stuff_classes'] = tuple(stuff_names)
    return [cat['id'] for cat in ordered]
