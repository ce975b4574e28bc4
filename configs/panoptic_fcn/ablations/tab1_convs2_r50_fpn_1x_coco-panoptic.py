# Ablation Table 1 (kernel generator), row "2 convs, no deformable convs"
# (paper PQ 38.9, PQ_th 44.1, PQ_st 31.1, AP 28.9, mIoU 40.1): 2 convs in both
# the position and the kernel head, plain convs in the position head; no
# coordinates (see the base file).
_base_ = './tab1_convs3-dcn_r50_fpn_1x_coco-panoptic.py'

model = dict(
    panoptic_head=dict(
        kernel_generator=dict(
            position_num_convs=2, kernel_num_convs=2, position_dcn=False)))
