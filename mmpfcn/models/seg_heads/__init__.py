from .panoptic_fcn_fusion_head import PanopticFCNFusionHead

__all__ = ['PanopticFCNFusionHead']
