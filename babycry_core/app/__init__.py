"""The application layer: the few verbs every front end (the CLI, the pages' views, the HTTP API) calls.

Front ends reach the core only through here (and the pages' pure figures, ui/*_plots): `.importlinter` checks it.
Each module is one job; importing this package imports nothing (the verbs import what they need when called, so
a plain `predict` stays without torch):

    answer     who answers (`answerer(run, engine)`: the model and its engine chosen in one place), classify
               files, detect crying episodes, listen live, decode an upload and its errors
    evidence   what the model heard and relied on: its input, saliency, feature drivers, YAMNet's view, clips
    train      TrainConfig, `train(config)` here, `launch(config)` in its own process, `stop(run)`, the log
    worker     the launched process: `python -m babycry_core.app.worker RUN_DIR`
    catalog    what there is: runs, defaults, the model registry, corpora and the data summary, data building
    finish     what is done to a run after training: evaluate, card, fuse, verdict, monitor rule, reasons, export
    bench      the benchmarks: `bench_arguments(parser)`, `bench(args)`
    words      the words every front end shows (display names, tips, the safety note)
"""
