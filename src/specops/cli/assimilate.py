"""``specops observe``, ``train-noda``, ``assimilate``, ``train-dgno``, ``invert``: sensors, observers, inverse problems."""

from __future__ import annotations

import argparse

from specops.cli.common import positive_float, threads_option


def _cmd_observe(args: argparse.Namespace) -> int:
    from specops.pipeline.assimilate import make_observations

    obs = make_observations(
        args.file, args.out, sensors=args.sensors, noise=args.noise, seed=args.seed, every=args.every,
        varying=args.varying, overwrite=args.overwrite,
    )  # fmt: skip
    print(
        f"wrote {args.out}: {obs.values.shape[0]} trajectories, {len(obs.frames)} observed frames, "
        f"{obs.points.shape[1]} sensors, sigma {obs.sigma:.4g} ({args.noise:g} x rms)"
    )
    return 0


def _one_or_range(cast: type, what: str):
    """An argparse type for ``V`` or ``LO:HI`` (``cast`` each part): ``--sensors``, ``--init-error``."""

    def parse(text: str):
        try:
            parts = [cast(v) for v in text.split(":")]
        except ValueError:
            parts = []
        if len(parts) not in (1, 2):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what} N or a range LO:HI")
        return parts[0] if len(parts) == 1 else (parts[0], parts[1])

    return parse


def _cmd_train_noda(args: argparse.Namespace) -> int:
    from specops.pipeline.assimilate import train_noda

    train_noda(
        args.data, args.out, sensors=args.sensors, noise=args.noise, n_modes=args.modes, width=args.width,
        semigroup=not args.no_semigroup, steps=args.steps, window=args.window, warmup=args.warmup,
        batch_size=args.batch_size, lr=args.lr, missing=args.missing, init_error=args.init_error,
        prediction_noise=args.prediction_noise, pretrain_steps=args.pretrain_steps, smoothing=args.smoothing,
        seed=args.seed, overwrite=args.overwrite,
    )  # fmt: skip
    print(f"wrote {args.out}")
    return 0


def _cmd_assimilate(args: argparse.Namespace) -> int:
    from specops.pipeline.assimilate import assimilate, error_table

    results = assimilate(
        args.run, args.data, args.obs, enkf=args.enkf, members=args.members, inflation=args.inflation,
        additive=args.additive, localization=args.localization, samples=args.samples, init_error=args.init_error, seed=args.seed,
        out=args.out, overwrite=args.overwrite,
    )  # fmt: skip
    print("median relative L2 error against the truth:")
    print(error_table(results))
    if args.out:
        print(f"results: {args.out}")
    return 0


def _cmd_train_dgno(args: argparse.Namespace) -> int:
    from specops.pipeline.dgno import train_dgno

    train_dgno(
        args.data, args.out, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, latent=args.latent,
        width=args.width, centres=args.centres, radius=args.radius, flux_weight=args.flux_weight,
        latent_penalty=args.latent_penalty, interpolation=args.interpolation, seed=args.seed, overwrite=args.overwrite,
    )  # fmt: skip
    print(f"wrote {args.out}")
    return 0


def _cmd_invert(args: argparse.Namespace) -> int:
    from specops.pipeline.dgno import invert

    res = invert(
        args.model, args.data, sensors=args.sensors, noise=args.noise, cases=args.cases, samples=args.samples, steps=args.steps,
        seed=args.seed, out=args.out, overwrite=args.overwrite,
    )  # fmt: skip
    errors = [c["a_error"] for c in res["cases"]]
    print(f"median relative L2 error of the coefficient: {sorted(errors)[len(errors) // 2]:.3e}")
    return 0


def add_commands(sub) -> None:
    ob = sub.add_parser(
        "observe", parents=[threads_option()], help="synthetic sparse noisy sensor data of a trajectory file"
    )
    ob.add_argument("file", help="trajectory file (.h5) written by `specops generate`")
    ob.add_argument("--sensors", type=int, required=True, help="sensors at random points of the domain")
    ob.add_argument("--noise", type=float, required=True, help="noise std relative to the rms (0.01: 1 %%)")
    ob.add_argument("--seed", type=int, default=0, help="seed of the sensor points and the noise")
    ob.add_argument("--every", type=int, default=1, help="observe every k-th frame (default every frame)")
    ob.add_argument("--varying", action="store_true", help="draw new sensor points at every observed frame")
    ob.add_argument("--out", required=True, help="observation file to write (.h5)")
    ob.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    ob.set_defaults(func=_cmd_observe)

    tn = sub.add_parser(
        "train-noda", parents=[threads_option()], help="train a NODA observer on trajectories"
    )
    tn.add_argument("data", help="trajectory file (.h5) for training")
    tn.add_argument("--out", required=True, help="model file to write (.pt; specops.load reads it)")
    tn.add_argument(
        "--sensors", type=_one_or_range(int, "a count"), required=True,
        help="sensors drawn at random in every window step: N, or LO:HI for a count drawn per window",
    )  # fmt: skip
    tn.add_argument("--noise", type=float, required=True, help="relative noise of the synthetic sensors")
    tn.add_argument("--modes", type=int, default=16, help="Fourier modes per axis (default 16)")
    tn.add_argument("--width", type=int, default=32, help="channels of both FNOs (default 32)")
    tn.add_argument("--no-semigroup", action="store_true", help="no exact linear step exp(dt L)")
    tn.add_argument("--steps", type=int, default=500, help="Adam steps (default 500)")
    tn.add_argument("--window", type=int, default=8, help="unrolled frames per window (default 8)")
    tn.add_argument("--warmup", type=int, default=2, help="frames of a window without state loss (default 2)")
    tn.add_argument("--batch-size", type=int, default=8, help="windows per step (default 8)")
    tn.add_argument("--lr", type=positive_float, default=1e-3, help="learning rate (default 1e-3)")
    tn.add_argument("--missing", type=float, default=0.0, help="probability a step has no measurement")
    tn.add_argument(
        "--init-error", type=_one_or_range(float, "a number"), default=(0.0, 0.5),
        help="background error relative to the rms: E, or LO:HI drawn per window (default 0:0.5)",
    )  # fmt: skip
    tn.add_argument(
        "--prediction-noise", type=float, default=0.1,
        help="input noise (relative to the rms) of the one-step prediction loss (default 0.1; 0: none)",
    )  # fmt: skip
    tn.add_argument(
        "--pretrain-steps", type=int, default=300, help="prediction-only steps first (default 300)"
    )
    tn.add_argument(
        "--smoothing", type=float, default=0.5,
        help="Gaussian width of the innovation interpolation in mean sensor spacings (default 0.5; 0: none)",
    )  # fmt: skip
    tn.add_argument("--seed", type=int, default=0)
    tn.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    tn.set_defaults(func=_cmd_train_noda)

    asm = sub.add_parser(
        "assimilate",
        parents=[threads_option()],
        help="NODA and/or EnKF on observed trajectories; error over time",
    )
    asm.add_argument("run", help="a NODA model file (specops train-noda) or a `specops train` run directory")
    asm.add_argument("--data", required=True, help="the true trajectories (.h5)")
    asm.add_argument("--obs", required=True, help="their observations (specops observe)")
    asm.add_argument(
        "--enkf", choices=["none", "solver", "model", "both"], default="none",
        help="also run the ensemble Kalman filter with the solver and/or the model as forecast",
    )  # fmt: skip
    asm.add_argument("--members", type=int, default=20, help="EnKF ensemble size (default 20)")
    asm.add_argument("--inflation", type=float, default=1.0, help="EnKF multiplicative inflation (default 1)")
    asm.add_argument(
        "--additive", type=float, default=0.0,
        help="EnKF additive model-error noise relative to the rms (default 0; 0.01-0.05 for a surrogate)",
    )  # fmt: skip
    asm.add_argument("--localization", type=float, default=None, help="EnKF Gaspari-Cohn half-width")
    asm.add_argument("--samples", type=int, default=None, help="use the first N trajectories")
    asm.add_argument("--init-error", type=float, default=0.5, help="background error relative to the rms")
    asm.add_argument("--seed", type=int, default=0)
    asm.add_argument("--out", default=None, help="write the error curves to this JSON file")
    asm.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    asm.set_defaults(func=_cmd_assimilate)

    td = sub.add_parser(
        "train-dgno", parents=[threads_option()], help="train a DGNO on Darcy inputs, no labels"
    )
    td.add_argument("data", help="Darcy file (.h5); only its coefficients a are read")
    td.add_argument("--out", required=True, help="model file to write (.pt)")
    td.add_argument("--epochs", type=int, default=100, help="epochs (default 100)")
    td.add_argument("--batch-size", type=int, default=25)
    td.add_argument(
        "--lr", type=positive_float, default=5e-4, help="Adam learning rate, halved every epochs/5"
    )
    td.add_argument("--latent", type=int, default=128, help="latent size (default 128)")
    td.add_argument("--width", type=int, default=100, help="MultiONet width (default 100)")
    td.add_argument("--centres", type=int, default=100, help="test functions per step (default 100)")
    td.add_argument("--radius", type=float, default=0.05, help="test-function support radius (default 0.05)")
    td.add_argument("--flux-weight", type=float, default=30.0, help="weight of |s - a grad u|^2 (default 30)")
    td.add_argument("--latent-penalty", type=float, default=1e-2, help="weight of mean(z^2) (default 0.01)")
    td.add_argument(
        "--interpolation", choices=("nearest", "bilinear"), default="nearest",
        help="a between the nodes: nearest (piecewise constant, default) or bilinear",
    )  # fmt: skip
    td.add_argument("--seed", type=int, default=0)
    td.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    td.set_defaults(func=_cmd_train_dgno)

    inv = sub.add_parser("invert", parents=[threads_option()], help="coefficient from sparse noisy u (DGNO)")
    inv.add_argument("model", help="a DGNO file (specops train-dgno)")
    inv.add_argument("--data", required=True, help="Darcy file with a and u (the truth to observe)")
    inv.add_argument("--sensors", type=int, required=True, help="observed nodes per case")
    inv.add_argument("--noise", type=float, required=True, help="noise relative to the rms of u")
    inv.add_argument("--cases", type=int, default=4, help="first samples to invert (default 4)")
    inv.add_argument("--samples", type=int, default=16, help="posterior samples (chains, default 16)")
    inv.add_argument(
        "--steps", type=int, default=300, help="MAP steps per chain before Langevin (default 300)"
    )
    inv.add_argument("--seed", type=int, default=0)
    inv.add_argument("--out", default=None, help="write the results to this JSON file")
    inv.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    inv.set_defaults(func=_cmd_invert)
