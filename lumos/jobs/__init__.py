"""Dataset-scale jobs: every example of a dataset file explained into resumable Parquet shards, on the local
engine (in-process, streaming, the default) or on Ray (``pip install lumos[ray]``).

>>> from lumos.jobs import explain_dataset
>>> result = explain_dataset("tweets.csv", methods=["occlusion", ("ig", {"n_steps": 16})],
...                          out="tweets-out")                                        # doctest: +SKIP
>>> result.to_pandas(), result.to_explanations(), result.skipped                     # doctest: +SKIP
"""

from .data import BadRow, DataSource, Row, open_dataset
from .output import JobResult, schema
from .run import JobSpec, ShardWorker, explain_dataset

__all__ = ["BadRow", "DataSource", "JobResult", "JobSpec", "Row", "ShardWorker", "explain_dataset", "open_dataset",
           "schema"]
