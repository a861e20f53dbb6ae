"""Inside the model: activations at named sites, and what each layer encodes."""

from .analysis import NeuronStats, ProbeResult, Projection, neuron_stats, probe, project
from .cnn import activation_maps, kernels, plot_grid
from .capture import REDUCERS, Activations, Capture, Site, capture, collect, n_layers, resolve_sites, sites
from .projector import to_tensorboard

__all__ = ["Site", "sites", "resolve_sites", "n_layers", "capture", "Capture", "collect", "Activations", "REDUCERS",
           "probe", "ProbeResult", "project", "Projection", "neuron_stats", "NeuronStats",
           "activation_maps", "kernels", "plot_grid", "to_tensorboard"]
