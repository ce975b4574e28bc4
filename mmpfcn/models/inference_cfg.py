"""The model's ``test_cfg``: one table of the reference's inference
settings (spec Sec. 4, COCO), shared by the head (kernel selection) and
the fusion head (panoptic merge). Configs override single keys; a key not
in this table is read by no component (:class:`PanopticFCN` refuses it)."""

DEFAULT_TEST_CFG = dict(
    # PanopticFCNHead: kernel selection (ThingGenerator, StuffGenerator)
    pool_sizes=(3, 3, 3, 5, 5),  # avg-pool of the centre heat, per level
    peaks_per_level=50,  # TOP_NUM // 2
    thing_peak_thr=0.05,  # FAST: 0.2
    stuff_score_thr=0.05,  # FAST: 0.1
    use_fusion=True,
    fusion_sim_thr=0.9,
    fusion_class_aware=True,
    score_thr=0.05,  # after maskness rescoring
    max_per_img=100,
    use_matrix_nms=False,  # paper Table 4
    # both: the maskness of the head, the painted masks of the fusion head
    mask_thr=0.4,  # INST_THRES
    # PanopticFCNFusionHead: the merge
    merge_mode='heuristic',
    merge_overlap_thr=0.5,
    merge_thing_thr=0.2,
    stuff_area_limit=4096,
    # the form of pred_instances.masks: 'bitmap' | 'rle' | 'none'
    instance_masks='bitmap')

TEST_CFG_KEYS = frozenset(DEFAULT_TEST_CFG)
