"""lumos: see why a neural model decides what it decides, and whether the explanation can be trusted."""

# Importing zoo, compression and feedback registers their model sources with lumos.load_model.
from . import compression, diagnosis, feedback, generation, global_, maskers, metrics, zoo
from .attention import AttentionFlow, AttentionRollout, AttentionXGradient, RawAttention, head_importance
from .attribution import LIME, ExactShapley, GradCAM, GradCAMPlusPlus, GradientXInput, IntegratedGradients, KernelSHAP, Occlusion, Saliency, SmoothGrad, get_method, method_names
from .errors import (
                     InvalidArgumentError,
                     InvalidTypeError,
                     LumosError,
                     ModelLoadError,
                     UnknownNameError,
                     UnsupportedModelError,
)
from .explanation import Cost, Explanation, ExplanationSet, Grid
from .readout import Readout
from .models import (CallableAdapter, ImageAdapter, ModelAdapter, SklearnAdapter, TabularTorchAdapter, TorchAdapter,
                     TransformersAdapter, as_adapter, load_model)

__version__ = "0.1.0"

__all__ = [
    "RawAttention", "AttentionRollout", "AttentionFlow", "AttentionXGradient", "head_importance",
    "Saliency", "GradientXInput", "IntegratedGradients", "SmoothGrad", "LIME", "Occlusion", "ExactShapley", "KernelSHAP", "GradCAM", "GradCAMPlusPlus", "get_method", "method_names",
    "Explanation", "ExplanationSet", "Cost", "Grid",
    "ModelAdapter", "TransformersAdapter", "TorchAdapter", "CallableAdapter", "SklearnAdapter", "TabularTorchAdapter", "ImageAdapter", "as_adapter",
    "load_model", "diagnosis", "global_", "maskers",
    "LumosError", "InvalidArgumentError", "InvalidTypeError", "UnknownNameError", "ModelLoadError",
    "UnsupportedModelError", "zoo", "metrics", "compression", "feedback", "generation", "Readout", "__version__",
]
