"""The ``lumos`` command: one module per command, each a thin layer over the Python API.

    lumos explain "the flight was late again" [--model tweets-sentiment] [--method ig] [--target CLASS]
                  [--n-steps N] [--n-evals N] [--json]
    lumos explain --image photo.png [--model imagenet-efficientnet-lite0] [--method grad_cam] [--out map.png]
    lumos generate "The capital of France is" [--model smollm2-135m] [--max-new-tokens 16] [--explain ig]
                   [--target continuation|0,-1] [--contrast " Rome"] [--sources all|prompt] [--chat] [--json]
    lumos lens "The capital of France is" [--model smollm2-135m] [--k 5] [--layers 0,-1] [--json]
    lumos trace "The capital of France is" --corrupt France [--site residual|attention|mlp] [--json]
    lumos report [--model tweets-sentiment] [--data DATA] [--n 50] [--out DIR] [--quality-n N]
                 [--compress prune:0.5,heads:4,int8]
    lumos evaluate [--model tweets-sentiment] [--data DATA] [--methods a,b] [--n 100] [--n-sanity 3] [--json]
    lumos diagnose [--model credit-scoring] [--data credit] [--split test] [--top-k 5] [--n-errors 3] [--json]
    lumos global [--model credit-scoring] [--data credit] [--n-repeats 5] [--max-depth 3] [--n 100]
    lumos attention "the flight was late again" [--model tweets-sentiment] [--layer -1] [--json]
    lumos layers [--model tweets-sentiment] [--data DATA] [--split validation] [--n 300] [--cv 5] [--json]
    lumos embed --tensorboard DIR [--model tweets-sentiment] [--data DATA] [--split validation] [--n 300]
                [--sites embeddings,layers.5.output] [--reduce mean|max|first]
    lumos compress [--model tweets-sentiment] --specs prune:0.5,heads:4,neurons:0.5,int8,distill:3 [...]
                   [--n 300] [--n-explain 20] [--methods a,b] [--out DIR] [--json]
    lumos feedback add TEXT|--image PATH|--row V1,V2 [--model M] [--irrelevant 0,late] [--region R0:R1,C0:C1]
                       [--relevant ...] [--label L] [--rating 1-5] [--comment C] [--author A] [--store PATH]
    lumos feedback list|stats [--model M] [--store PATH] [--json];  lumos feedback export OUT | import FILE
    lumos retrain --model M [--store PATH] [--method rrr|counterexamples|both] [--lambda auto|L]
                  [--train all|head|N] [--data DATA] [--n 2000] [--epochs 5] [--out DIR] [--json]
    lumos serve [--model NAME|PATH|NAME@SPEC ...] [--data DATA] [--host 127.0.0.1] [--port 8765] [--store PATH]
                [--allow-remote] [--base-url PREFIX]
    lumos zoo list | lumos zoo build NAME
    lumos methods

Options are named after the API parameters they set (``--n-steps`` sets ``n_steps``). The earlier spellings
(``--steps``, ``--evals``, ``--quality``, ``--sanity-n``, ``--sensitivity-n``, ``--slices``, ``--errors``,
``--repeats``, ``--depth``, ``--explain``, and ``--method`` of ``lumos compress``) still work, with a warning.
Data arguments are read by :mod:`lumos.zoo.data`.
"""

from __future__ import annotations

import click

from .attention import attention
from .compress import compress
from .diagnose import diagnose
from .embed import embed
from .evaluate import evaluate
from .explain import explain
from .generate import generate
from .feedback import feedback
from .global_ import global_
from .layers import layers
from .lens import lens
from .methods import methods
from .report import report
from .retrain import retrain
from .serve import serve
from .trace import trace
from .zoo import zoo

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="lumos")
def main() -> None:
    """lumos: see why a model (a classifier, or a generative language model) decides what it decides, and
    whether the explanation can be trusted."""


for _command in (explain, generate, lens, trace, report, evaluate, methods, zoo, diagnose, global_, attention,
                 layers, embed, compress, feedback, retrain, serve):
    main.add_command(_command)

if __name__ == "__main__":  # pragma: no cover
    main()
