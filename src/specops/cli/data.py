"""``specops generate | info | convert | merge``: the data commands."""

from __future__ import annotations

import argparse
import sys

from specops.cli.common import threads_option


def _parse_sets(items: list[str]) -> dict:
    """``--set key=value`` items of ``generate``, read as ``train --set`` reads its values; a dotted key
    (``solver.recycle=10``) sets one key of a group."""
    from specops.config import parse_assignment

    out: dict = {}
    for item in items:
        key, value = parse_assignment(item, example="viscosity=1e-3")
        group, dot, sub = key.partition(".")
        if dot:
            if not isinstance(out.get(group, {}), dict):
                raise ValueError(f"--set {item}: {group} was set to a value, not a group of options")
            out.setdefault(group, {})[sub] = value
        else:
            out[key] = value
    return out


def _cmd_generate(args: argparse.Namespace) -> int:
    import torch

    from specops.data.generate import generate_dataset
    from specops.solvers.problems import make_problem

    overrides = _parse_sets(args.set)
    if args.resolution is not None:
        overrides["resolution"] = args.resolution
    if args.solver is not None or "solver" in overrides:
        from specops.solvers.problems import problem_arguments

        if "solver" not in problem_arguments(args.pde):
            raise ValueError(
                f"problem {args.pde!r} solves no linear systems, so --solver and solver.* do not apply; they "
                f"apply to darcy, poisson, helmholtz and heat problems (see `specops list`)"
            )
        if args.solver is not None:
            overrides["solver"] = {**overrides.get("solver", {}), "method": args.solver}
    problem = make_problem(args.pde, **overrides)
    command = [f"specops generate {args.pde} --samples {args.samples} --seed {args.seed}"]
    command += [f"--resolution {args.resolution}"] if args.resolution is not None else []
    command += [f"--solver {args.solver}"] if args.solver is not None else []
    command += [f"--set {item}" for item in args.set]
    command += [f"--batch-size {args.batch_size} --device {args.device} --dtype {args.dtype}"]
    try:
        out = generate_dataset(
            problem,
            args.samples,
            args.out,
            seed=args.seed,
            batch_size=args.batch_size,
            shard=args.shard,
            device=args.device,
            dtype=getattr(torch, args.dtype),
            progress=not args.no_progress,
            compression=args.compression,
            attrs={"command": " ".join(command), "overrides": overrides},
            overwrite=args.overwrite,
        )
    except KeyboardInterrupt:
        print(
            f"\nspecops generate: interrupted; finished batches are kept in {args.out}.partial: run the same "
            f"command again to resume",
            file=sys.stderr,
        )
        return 130
    print(f"wrote {out}")
    _report_solves(out)
    return 0


def _report_solves(path) -> None:
    """The linear solver's per-sample statistics, and the samples that did not converge (flagged)."""
    from specops.data.io import flagged_samples, read_info, solver_summary

    info = read_info(path)
    if not info.sample_info:
        return
    for line in solver_summary(info):
        print(f"  {line}")
    bad = flagged_samples(info)
    if bad:
        listed = ", ".join(map(str, bad[:10])) + (" ..." if len(bad) > 10 else "")
        print(
            f"specops generate: {len(bad)} sample(s) did not reach the tolerance and are flagged in the file "
            f"(samples {listed}); `specops info {path} --verify` lists them",
            file=sys.stderr,
        )


def _cmd_info(args: argparse.Namespace) -> int:
    from specops.data.io import format_info, read_info, verify_file

    if args.verify:
        problems = verify_file(args.file)
        if problems:
            for problem in problems:
                print(problem, file=sys.stderr)
            print(
                f"specops info: {args.file} failed verification ({len(problems)} problem(s))", file=sys.stderr
            )
            return 1
    print(format_info(read_info(args.file)))
    if args.verify:
        print("verified: schema complete, every checksum matches, no NaN or inf")
    return 0


def _cmd_convert(args: argparse.Namespace) -> int:
    from specops.data.convert import convert

    layout: str | dict[str, str] | None = None
    for item in args.layout:
        name, sep, value = item.partition("=")
        if sep:
            layout = {**(layout if isinstance(layout, dict) else {}), name.strip(): value}
        else:
            layout = item
    out = convert(
        args.src,
        args.fmt,
        args.out,
        input_fields=args.input,
        output_fields=args.output,
        layout=layout,
        compression=args.compression,
        progress=not args.no_progress,
        overwrite=args.overwrite,
    )
    print(f"wrote {out}")
    return 0


def _cmd_merge(args: argparse.Namespace) -> int:
    from specops.data.shards import merge_shards

    out = merge_shards(
        args.out,
        args.shards,
        compression=args.compression,
        progress=not args.no_progress,
        overwrite=args.overwrite,
    )
    print(f"wrote {out}")
    return 0


def add_commands(sub) -> None:
    from specops.data.formats import FORMATS

    compress = {"choices": ["gzip", "lzf"], "default": None, "help": "compress fields (default: none)"}
    gen = sub.add_parser(
        "generate",
        parents=[threads_option()],
        help="generate a dataset with a built-in solver (resumable, shardable)",
    )
    gen.add_argument("pde", help="problem name (see `specops list`)")
    gen.add_argument("--samples", type=int, required=True, help="samples in the whole dataset")
    gen.add_argument("--resolution", type=int, default=None, help="grid points per axis")
    gen.add_argument("--out", required=True, help="output .h5 file (a shard's file with --shard)")
    gen.add_argument("--seed", type=int, default=0, help="base seed; sample i uses seed+i (default 0)")
    gen.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    gen.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    gen.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a problem parameter"
    )
    gen.add_argument(
        "--solver",
        choices=["direct", "cg", "gmres", "gcrodr", "skr"],
        default=None,
        help="linear solver of darcy/poisson/helmholtz/heat problems; options with --set solver.KEY=VALUE",
    )
    gen.add_argument("--batch-size", type=int, default=32, help="samples per solver call (default 32)")
    gen.add_argument("--shard", default=None, metavar="K/N", help="generate only the K-th of N parts")
    gen.add_argument("--compression", **compress)
    gen.add_argument("--overwrite", action="store_true", help="replace an existing different --out file")
    gen.add_argument("--no-progress", action="store_true", help="no progress bar")
    gen.set_defaults(func=_cmd_generate)
    info = sub.add_parser("info", help="print a dataset's metadata and field shapes")
    info.add_argument("file")
    info.add_argument(
        "--verify", action="store_true", help="check schema, checksums and values; non-zero exit on problems"
    )
    info.set_defaults(func=_cmd_info)
    conv = sub.add_parser("convert", help="import a dataset from another project's format")
    conv.add_argument("src")
    conv.add_argument("--from", dest="fmt", required=True, choices=FORMATS.names(), help="source format")
    conv.add_argument("--out", required=True, help="output .h5 file")
    conv.add_argument("--input", nargs="+", default=[], metavar="KEY", help="input arrays (npz/mat)")
    conv.add_argument("--output", nargs="+", default=[], metavar="KEY", help="output arrays (npy/npz/mat)")
    conv.add_argument(
        "--layout",
        action="append",
        default=[],
        help="axes of the source arrays, e.g. 'sample x y time'; NAME='...' for one array",
    )
    conv.add_argument("--compression", **compress)
    conv.add_argument("--overwrite", action="store_true", help="replace an existing different --out file")
    conv.add_argument("--no-progress", action="store_true", help="no progress bar")
    conv.set_defaults(func=_cmd_convert)
    merge = sub.add_parser("merge", help="join the shards of a `generate --shard` run into one file")
    merge.add_argument("out", help="output .h5 file")
    merge.add_argument("shards", nargs="+", help="shard files, in any order")
    merge.add_argument("--compression", **compress)
    merge.add_argument("--overwrite", action="store_true", help="replace an existing different output file")
    merge.add_argument("--no-progress", action="store_true", help="no progress bar")
    merge.set_defaults(func=_cmd_merge)
