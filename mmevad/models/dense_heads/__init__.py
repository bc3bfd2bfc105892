from .query_localization_head import QueryLocalizationHead

__all__ = ['QueryLocalizationHead']
