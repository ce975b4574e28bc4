# Panoptic FCN R50 on Cityscapes (paper Table 13: PQ 59.6, PQ_th 52.1,
# PQ_st 65.1): 32 crops of 512x1024 per batch, 65k iterations, SGD 0.02,
# lambda_seg 4, the Cityscapes scale ranges and up to 150 thing targets per
# level, the Cityscapes inference thresholds (spec Sec. 4), test 1024x2048.
_base_ = [
    '../_base_/models/panoptic_fcn_r50_fpn.py',
    '../_base_/datasets/cityscapes_panoptic.py',
    '../_base_/schedules/schedule_poly_65k.py', '../_base_/default_runtime.py'
]

model = dict(
    panoptic_head=dict(
        num_things_classes={{_base_.num_things_classes}},
        num_stuff_classes={{_base_.num_stuff_classes}},
        target_generator=dict(
            scale_ranges=((1, 128), (64, 256), (128, 512), (256, 1024),
                          (512, 2048)),
            max_things_per_level=150),
        loss_seg=dict(loss_weight=4.0)),
    # INST_THRES 0.5, fusion 0.97, thing score 0.01, stuff score 0.1,
    # TOP_NUM 200 (100 peaks per level, 200 things per image), stuff area
    # 2048
    test_cfg=dict(
        mask_thr=0.5,
        fusion_sim_thr=0.97,
        thing_peak_thr=0.01,
        stuff_score_thr=0.1,
        peaks_per_level=100,
        max_per_img=200,
        stuff_area_limit=2048))
