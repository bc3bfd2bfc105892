from .setup_env import adapt_dist_backend

__all__ = ['adapt_dist_backend']
