"""Attribution methods: one module and one class per method, found by name through the registry."""

from .base import EncodedMethod, Estimate, GradientMethod, Method, PerturbationMethod
from .exact_shapley import ExactShapley
from .gradcam import GradCAM, GradCAMPlusPlus
from .gradient_x_input import GradientXInput
from .integrated_gradients import IntegratedGradients
from .kernel_shap import KernelSHAP
from .lime import LIME
from .occlusion import Occlusion
from .registry import get_method, make_methods, method_names, preset, preset_methods, preset_names, register_method
from .saliency import Saliency
from .smoothgrad import SmoothGrad

__all__ = ["Method", "EncodedMethod", "GradientMethod", "PerturbationMethod", "Estimate", "LIME", "Occlusion", "ExactShapley", "KernelSHAP", "Saliency", "GradientXInput", "IntegratedGradients", "SmoothGrad", "GradCAM", "GradCAMPlusPlus",
           "get_method", "method_names", "register_method", "preset", "preset_names", "preset_methods", "make_methods"]
