from .token_pruning_vit import TokenPruningViT, pruning_schedule

__all__ = ['TokenPruningViT', 'pruning_schedule']
