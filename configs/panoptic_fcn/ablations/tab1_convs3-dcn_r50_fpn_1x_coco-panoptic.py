# Ablation Table 1 (kernel generator), row "3 convs, deformable position head"
# (paper PQ 39.9, PQ_th 45.0, PQ_st 32.4, AP 29.9, mIoU 41.2), which is also
# Table 2's row "no coordinates": the 1x baseline without coordinate channels
# in the kernel head and the feature encoder (Table 1 is measured without them;
# Table 2 adds them).
_base_ = '../panoptic-fcn_r50_fpn_1x_coco-panoptic.py'

model = dict(
    panoptic_head=dict(
        kernel_generator=dict(kernel_coord=False),
        feature_encoder=dict(with_coord=False)))
