# Panoptic FCN with a ResNet-50 FPN (spec Sec. 1), as the reference COCO
# models: caffe-style ResNet-50 with frozen BN and stem+res2 frozen, BGR
# input with an RGB-ordered mean and std 1 (the reference's quirk, needed
# for converted reference checkpoints), DCNv2 position head, C_e = 64.
# class counts are literals: the dataset bases define num_things_classes /
# num_stuff_classes and mmengine forbids a key in two bases
model = dict(
    type='PanopticFCN',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[1.0, 1.0, 1.0],
        bgr_to_rgb=False,
        pad_size_divisor=32,
        pad_mask=True,
        mask_pad_value=0,
        pad_seg=True,
        seg_pad_value=255),
    backbone=dict(
        type='ResNet',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=False),
        norm_eval=True,
        style='caffe',
        init_cfg=dict(
            type='Pretrained',
            checkpoint='open-mmlab://detectron2/resnet50_caffe')),
    # P2..P7: P6 from the P5 output, P7 from ReLU(P6). Every conv starts
    # as in detectron2 (c2_xavier_fill = mmengine's Caffe2Xavier: Kaiming
    # uniform with a=1, bound sqrt(3 / fan_in), bias 0), not mmdet's Xavier.
    neck=dict(
        type='FPN',
        in_channels=[256, 512, 1024, 2048],
        out_channels=256,
        start_level=0,
        add_extra_convs='on_output',
        relu_before_extra_convs=True,
        num_outs=6,
        init_cfg=dict(type='Caffe2Xavier', layer='Conv2d')),
    semantic_fpn=dict(
        type='SemanticFPN',
        in_channels=256,
        feat_channels=256,
        num_levels=4,
        mode='semantic_fpn'),
    panoptic_head=dict(
        type='PanopticFCNHead',
        num_things_classes=80,
        num_stuff_classes=53,
        in_channels=256,
        kernel_channels=256,
        kernel_generator=dict(
            type='KernelGenerator',
            position_num_convs=3,
            kernel_num_convs=3,
            position_dcn=True,
            kernel_dcn=False,
            position_coord=False,
            kernel_coord=True),
        feature_encoder=dict(
            type='FeatureEncoder',
            feat_channels=64,
            num_convs=3,
            with_coord=True,
            use_dcn=False,
            norm_cfg=None),
        target_generator=dict(
            type='PanopticFCNTargetGenerator',
            scale_ranges=((1, 64), (32, 128), (64, 256), (128, 512),
                          (256, 2048)),
            max_things_per_level=100,
            gaussian_overlap=0.7,
            stuff_region_thr=0.5,
            thing_region_thr=0.1,
            center_type='mass',
            gaussian_sigma_factor=3),
        strides=(8, 16, 32, 64, 128),
        # k kernels per (instance, level), weighted by their heat (Table 7)
        thing_generator=dict(
            type='ThingGenerator', pos_num=7, dice_weighting='score'),
        stuff_generator=dict(type='StuffGenerator'),
        stuff_with_things=True,
        loss_pos=dict(
            type='SoftFocalLoss', alpha=0.25, gamma=2.0, loss_weight=1.0),
        loss_seg=dict(type='WeightedDiceLoss', loss_weight=3.0)),
    panoptic_fusion_head=dict(type='PanopticFCNFusionHead'),
    # shared by the head (kernel selection) and the fusion head (merge);
    # the reference's values are DEFAULT_TEST_CFG in
    # mmpfcn/models/inference_cfg.py, a config overrides single keys
    test_cfg=dict())
