"""The models: parameters and their maths, each behind the one interface of
:mod:`rbmcli.models.base` (Bernoulli RBM, Gaussian-Bernoulli RBM, deep belief network;
the flows live in :mod:`rbmcli.flows`)."""
