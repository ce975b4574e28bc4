# Ablation Table 1 (kernel generator), row "1 conv, no deformable convs" (paper
# PQ 38.4, PQ_th 43.4, PQ_st 31.0, AP 28.3, mIoU 39.9): 1 conv in both the
# position and the kernel head, plain convs in the position head; no
# coordinates (see the base file).
_base_ = './tab1_convs3-dcn_r50_fpn_1x_coco-panoptic.py'

model = dict(
    panoptic_head=dict(
        kernel_generator=dict(
            position_num_convs=1, kernel_num_convs=1, position_dcn=False)))
