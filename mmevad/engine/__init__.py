from .data_report_hook import DataReportHook  # noqa: F401
from .optimizers import *  # noqa: F401,F403
