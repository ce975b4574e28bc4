# Ablation Table 1 (kernel generator), row "3 convs, no deformable convs"
# (paper PQ 39.2, PQ_th 44.7, PQ_st 31.0, AP 29.6, mIoU 40.2): 3 convs in both
# the position and the kernel head, plain convs in the position head; no
# coordinates (see the base file).
_base_ = './tab1_convs3-dcn_r50_fpn_1x_coco-panoptic.py'

model = dict(
    panoptic_head=dict(
        kernel_generator=dict(
            position_num_convs=3, kernel_num_convs=3, position_dcn=False)))
