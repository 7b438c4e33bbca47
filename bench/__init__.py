"""Benchmarks: Squall's figures measured beside the floors of the parts it is built from (issue 6).

``squall bench`` (``app.cli.bench``) drives ``bench.run``; the pieces are
``stack`` (start a controller and an invoker against the running services), ``client`` (a keep-alive
load client), ``workload`` (what is measured through the API), ``floors`` (the bare parts), ``processes``
(RSS and CPU of the controller and invoker), ``profile`` (py-spy), ``stats`` and ``report`` (table, JSON, chart).
"""
