"""Orchestration: the layer above the models (mmgt.stage1, mmgt.stage2, mmgt.methods, baselines) and the
harness (eval). Tables (``tables``), reports (``stage1_report``, ``sanity``) and throughput benchmarks
(``bench_*``) run methods and evaluate them; nothing below imports this package."""
