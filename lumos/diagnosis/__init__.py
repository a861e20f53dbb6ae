"""Error analysis: where and why a model fails.

- :func:`performance`: confusion matrix, per-class precision / recall / F1;
- :func:`calibration`: expected calibration error and the reliability diagram (:func:`plot_reliability`);
- :func:`find_slices`: high-error slices over interpretable descriptors (:func:`describe_table`,
  :func:`describe_texts`), with size, error rate, lift and a significance test;
- :func:`confident_errors`: the most confident mistakes, with explanations;
- :func:`diagnose`: all of the above in one call.
"""

from .calibration import Calibration, calibration, plot_reliability
from .diagnose import ConfidentError, Diagnosis, confident_errors, diagnose, predict_all
from .performance import Performance, performance
from .slices import Slice, confidence_band, describe_table, describe_texts, find_slices

__all__ = [
    "Performance", "performance", "Calibration", "calibration", "plot_reliability", "Slice", "find_slices",
    "describe_table", "describe_texts", "confidence_band", "ConfidentError", "Diagnosis", "confident_errors",
    "diagnose", "predict_all",
]
