"""Hyperparameter sweeps on Dask: ``rbm sweep``.

One module a job:

* :mod:`rbmcli.sweep.plan`: the runs of a grid (``--grid``) or a TOML sweep file, each
  with a stable id;
* :mod:`rbmcli.sweep.records`: the sweep folder: where a run's model and record live, and
  what a folder already holds;
* :mod:`rbmcli.sweep.run`: one run, ``rbmcli.train`` then the model's scores, recorded
  atomically (what a Dask worker executes);
* :mod:`rbmcli.sweep.cluster`: the Dask client (a LocalCluster or a running scheduler)
  and the submission of runs, with retries when a worker dies;
* :mod:`rbmcli.sweep.study`: a whole sweep: the runs still to do, then the results;
* :mod:`rbmcli.sweep.results`: ``results.csv`` and ``summary.md`` from the records;
* :mod:`rbmcli.sweep.report`: the pictures (heat map, curves, filters).

Dask is an optional dependency (``pip install 'rbm[sweep]'``); only
:mod:`rbmcli.sweep.cluster` imports it.
"""
