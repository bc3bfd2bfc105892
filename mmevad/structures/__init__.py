from .token_pruning_output import TokenPruningOutput

__all__ = ['TokenPruningOutput']
