# Panoptic FCN R50 on Mapillary Vistas v1.2 (paper Table 14: PQ 34.8,
# PQ_th 30.6, PQ_st 40.5): 32 crops of 1024x1024 per batch, 150k
# iterations, SGD 0.02, lambda_seg 3, k = 3, the street-scene scale ranges
# (P7 up to 4096) and up to 400 thing targets per level, the reference
# author's Mapillary inference thresholds (spec Sec. 4).
_base_ = [
    '../_base_/models/panoptic_fcn_r50_fpn.py',
    '../_base_/datasets/mapillary_panoptic.py',
    '../_base_/schedules/schedule_poly_150k.py',
    '../_base_/default_runtime.py'
]

model = dict(
    panoptic_head=dict(
        num_things_classes={{_base_.num_things_classes}},
        num_stuff_classes={{_base_.num_stuff_classes}},
        target_generator=dict(
            scale_ranges=((1, 128), (64, 256), (128, 512), (256, 1024),
                          (512, 4096)),
            max_things_per_level=400),
        thing_generator=dict(pos_num=3),
        loss_seg=dict(loss_weight=3.0)),
    # INST_THRES 0.5, fusion 0.95, thing score 0.2, stuff score 0.1,
    # TOP_NUM 200 (100 peaks per level, 200 things per image)
    test_cfg=dict(
        mask_thr=0.5,
        fusion_sim_thr=0.95,
        thing_peak_thr=0.2,
        stuff_score_thr=0.1,
        peaks_per_level=100,
        max_per_img=200))
