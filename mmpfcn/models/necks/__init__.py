from .semantic_fpn import SemanticFPN

__all__ = ['SemanticFPN']
