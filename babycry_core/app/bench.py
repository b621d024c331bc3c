"""The benchmarks, as the CLI's `bench KIND` runs them (bench.dispatch: each kind imported only when it runs)."""
from __future__ import annotations


def bench_arguments(parser) -> None:
    """The `bench` subcommand's arguments: the kind and its options."""
    from babycry_core.bench import dispatch

    dispatch.add_arguments(parser)


def candidate_names() -> dict[str, str]:
    """`bench cry`'s candidates and the names the Compare page shows for them."""
    from babycry_core.bench.cry import CANDIDATES

    return dict(CANDIDATES)


def bench(args) -> int:
    """Run the benchmark args.kind with the parsed arguments; its exit status."""
    from babycry_core.bench import dispatch

    return dispatch.run(args)
