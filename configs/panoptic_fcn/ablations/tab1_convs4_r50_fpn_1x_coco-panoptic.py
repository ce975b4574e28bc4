# Ablation Table 1 (kernel generator), row "4 convs, no deformable convs"
# (paper PQ 39.2, PQ_th 44.9, PQ_st 30.8, AP 29.4, mIoU 39.9): 4 convs in both
# the position and the kernel head, plain convs in the position head; no
# coordinates (see the base file).
_base_ = './tab1_convs3-dcn_r50_fpn_1x_coco-panoptic.py'

model = dict(
    panoptic_head=dict(
        kernel_generator=dict(
            position_num_convs=4, kernel_num_convs=4, position_dcn=False)))
