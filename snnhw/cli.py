"""Command line: parses arguments, calls one stage function per command, turns errors into one
line on stderr and a non-zero exit status.

Exit status: 0 done; 2 bad input or a failed check (one line ``snnhw: error: ...``, nothing
written); 128 + N when ended by signal N (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP), after removing
what the run had started to write and ending the tools it had started.
"""

from __future__ import annotations

import argparse
import importlib.resources
import math
import signal
import sys
import time
from pathlib import Path
from typing import Callable, NoReturn

from . import SnnhwError, __version__
from .processes import Terminated, signals_raise

__all__ = ["main"]

DEFAULT_RECIPE = "stbp_mlp.toml"


class _Parser(argparse.ArgumentParser):
    """argparse with its errors as one line (``snnhw: error: ...``, exit 2), like every other
    error of snnhw, instead of usage text plus the message."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"snnhw: error: {self.prog.removeprefix('snnhw ')}: {message} "
                     f"(see {self.prog} --help)\n")


def _integer(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """argparse type: an integer in ``minimum..maximum``; the message names what is allowed."""
    allowed = f"{minimum}..{maximum}" if maximum is not None else f">= {minimum}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer ({allowed})") from None
        if value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"{value} is out of range; allowed {allowed}")
        return value

    parse.__name__ = "integer"
    return parse


def _probability(text: str) -> float:
    """argparse type: a probability in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and 0.0 <= value < 1.0):
        raise argparse.ArgumentTypeError(f"{text}: a probability in [0, 1) is required")
    return value


_probability.__name__ = "probability"
BAUD_MAX = 3_000_000


def _cmd_train(args: argparse.Namespace) -> None:
    import json

    from .distributed import from_environment, train_parallel
    from .train import check_model_output, load_recipe, train, training_device

    overrides = _overrides(args.set) | ({"device": args.device} if args.device else {})
    recipe = load_recipe(args.recipe, overrides)
    training_device(recipe.device)      # a GPU asked for where there is none: say so first
    out = args.out if args.out is not None else Path("build") / recipe.name / "model.pt"
    world = from_environment(recipe.device)     # under torchrun
    if world is not None:
        metrics = train(recipe, out, progress=not args.quiet, world=world)
        if metrics is None:             # not rank 0: rank 0 writes and reports
            return
    elif args.nproc > 1:
        out = check_model_output(out)   # before any process starts
        train_parallel(recipe, out, args.nproc, progress=not args.quiet)
        metrics = json.loads(out.with_suffix(".metrics.json").read_text())
    else:
        metrics = train(recipe, out, progress=not args.quiet)
    print(f"wrote {out}: test accuracy {100 * metrics['test_accuracy']:.2f} % "
          f"({metrics['train_seconds']:.0f} s, {metrics['processes']} process"
          f"{'es' if metrics['processes'] != 1 else ''})")


def _overrides(pairs: list[str]) -> dict:
    """``KEY=VALUE`` pairs; values are read as TOML (``epochs=3``, ``layers=["64FC"]``),
    anything that is not TOML as a string (``data_path=/data/nmnist``)."""
    import tomllib

    values = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise SnnhwError(f"--set {pair!r}: expected KEY=VALUE")
        try:
            values[key.strip()] = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            values[key.strip()] = text
    return values


def _nir_options(args: argparse.Namespace):
    """How to read a NIR model and which test data to check it on (``snnhw.interop``)."""
    from .interop.importer import SampleData
    from .interop.nir_read import ImportOptions

    return (ImportOptions(convention=args.source, dt=args.dt, reset=args.reset),
            SampleData(data=args.data, encoding=args.encoding, timesteps=args.timesteps,
                     data_path=args.data_path, seed=args.seed))


def _build_options(args: argparse.Namespace):
    from .build import BuildOptions

    nir = {}
    if hasattr(args, "source"):         # snnhw build has the NIR options, snnhw demo not
        nir["nir"], nir["test_data"] = _nir_options(args)
    return BuildOptions(weight_bits=args.fixed, membrane_bits=args.membrane_bits,
                        leak_frac_bits=args.leak_bits, input_bits=args.input_bits,
                        sim=args.sim, lanes=args.lanes,
                        samples=args.samples, stall=args.stall,
                        weight_memory=args.weight_memory,
                        membrane_memory=args.membrane_memory, target=_fpga(args.target),
                        trace=args.trace,
                        progress=not args.quiet, **nir)


def _fpga(name: str | None) -> str | None:
    """The FPGA of a ``--target`` that names a board (icebreaker: ice40-up5k), else the name."""
    from .board import BOARDS

    return BOARDS[name].target if name in BOARDS else name


def _cmd_import(args: argparse.Namespace) -> None:
    from .checkpoint import save_payload
    from .interop.importer import import_model

    out = Path(args.out)
    if out.exists():
        raise SnnhwError(f"--out {out}: exists; snnhw import never replaces a file")
    model = import_model(args.model, *_nir_options(args))
    save_payload(out, model)
    layers = ", ".join(spec["type"] for spec in model["architecture"])
    print(f"wrote {out}: {model['name']} ({layers}), test data {model['dataset']['name']}, "
          f"{model['encoding']['type']} encoding, T={model['encoding']['timesteps']}")


def _cmd_export(args: argparse.Namespace) -> None:
    from .checkpoint import load_checkpoint
    from .interop.nir_write import write_nir

    model = load_checkpoint(args.model)
    path = write_nir(model, args.nir, dt=args.dt, pool=args.pool, where=str(args.model))
    print(f"wrote {path}: {model['name']} as a NIR graph (dt = {args.dt:g} s in its metadata)")


def _cmd_build(args: argparse.Namespace) -> None:
    from .build import build

    build(args.model, args.out, _build_options(args))


def _cmd_demo(args: argparse.Namespace) -> None:
    from .board import BOARDS
    from .build import build
    from .outdir import OutputFolder
    from .report import render_text
    from .train import check_model_output, load_recipe, train

    out = Path(args.out)
    if args.recipe:
        recipe = load_recipe(args.recipe)
    else:
        recipe_file = importlib.resources.files("snnhw.recipes").joinpath(DEFAULT_RECIPE)
        with importlib.resources.as_file(recipe_file) as path:
            recipe = load_recipe(path)
    model, hw = check_model_output(out / "model.pt"), out / "hw"
    OutputFolder(hw, inputs=(model,)).check()      # before training, not after
    options = _build_options(args)
    print(f"[1/3] training {recipe.name} ({recipe.layers}, T={recipe.timesteps}) on "
          + ("the bundled MNIST subset" if recipe.dataset == "mnist-subset" else recipe.dataset))
    train(recipe, model, progress=not args.quiet)
    print(f"[2/3] snnhw build {model} --fixed {args.fixed}"
          + (f" --target {options.target}" if options.target else "") + f" --out {hw}")
    report = build(model, hw, options)
    print("[3/3] report\n")
    print(render_text(report))
    print(f"\nreport: {hw / 'report.html'} (a page to open in a browser; report.md, report.json)")
    target = (report.get("fit") or {}).get("target")
    boards = [b.name for b in BOARDS.values() if b.target == target]
    if target:
        steps = [(f"snnhw synth {hw}", f"Yosys + nextpnr for {target}: cells, block RAMs, "
                                       f"fmax, us/image")]
        if boards:
            steps += [(f"snnhw synth {hw} --board {boards[0]}", "bitstream with the UART host "
                                                                 "link"),
                      (f"snnhw run {hw} --port /dev/ttyUSB1", "the test digits through the "
                       "board (program the bitstream with iceprog or openFPGALoader first)")]
        width = max(len(command) for command, _ in steps)
        print("next:\n" + "\n".join(f"  {command:<{width}}  # {what}" for command, what in steps))


def _phases() -> Callable[[str], None]:
    """A log for the phases of a long tool run: each line on stderr with the time since the
    first (Yosys and nextpnr print nothing of their own here for a minute or more)."""
    start = time.monotonic()

    def log(line: str) -> None:
        elapsed = int(time.monotonic() - start)
        print(f"[{elapsed // 60}:{elapsed % 60:02d}] {line}", file=sys.stderr, flush=True)

    return log


def _cmd_synth(args: argparse.Namespace) -> None:
    from .cosim import find_simulator
    from .synth import build_target, fitting_configurations, gate_level_check, synthesise
    from .targets import TARGETS

    if args.board:
        from .board import build_bitstream

        result = build_bitstream(args.folder, args.board, lanes=args.lanes, baud=args.baud,
                                 log=_phases())
        fmax = f"{result['fmax_mhz']:.1f} MHz" if result["fmax_mhz"] else "n/a"
        print(f"{result['board']}: wrote {result['bitstream']} ({result['bytes']} bytes); "
              f"P={result['lanes']}, clock {result['clock_mhz']:.0f} MHz, fmax {fmax}, UART "
              f"{result['baud']} baud, weights: {result['weight_memory']}"
              + (" (snnhw run sends them over the UART after reset)"
                 if result["weight_memory"] == "spram" else "")
              + f", membranes: {result['membrane_memory']}")
        return
    target = args.target or build_target(args.folder)
    if args.gate_level:      # the simulator too, before any work
        if args.sim == "icarus" and TARGETS[target].family == "ecp5":
            raise SnnhwError("--sim icarus: Icarus 11 cannot parse the ECP5 cell models; "
                             "use --sim fast or --sim verilator for an ECP5 netlist")
        find_simulator("verilator" if args.sim == "fast" else args.sim)
    section = synthesise(args.folder, target, log=_phases(), router=args.router,
                         seed=args.seed)
    if section["cells"] is not None:
        fmax = f"{section['fmax_mhz']:.1f} MHz" if section["fmax_mhz"] else "n/a"
        print(f"{section['target']}: fits={section['fits']}, cells={section['cells']} "
              f"(LUTs {section['luts']}, FFs {section['flip_flops']}), BRAMs={section['brams']}, "
              f"SPRAMs={section['sprams']}, DSPs={section['dsps']}, fmax={fmax}")
    if not section["fits"]:
        from .buildfolder import open_build

        options = fitting_configurations(open_build(args.folder, checked=())[0], target)
        raise SnnhwError(
            f"{section['target']}: does not fit: "
            f"{section.get('not_fitting') or section.get('pnr_error')}; "
            + (f"by the estimates these fit: {'; '.join(options[:3])} (snnhw build MODEL "
               f"--target {target} chooses among them)" if options else
               "no lane count or weight memory fits it by the estimates: another --target or "
               "fewer --fixed bits"))
    if args.gate_level:
        results = gate_level_check(args.folder, target, sim=args.sim)
        mismatches = sum(r["mismatches"] for r in results.values())
        print(f"gate-level netlist vs golden model: {mismatches} mismatching spikes over "
              f"{results['full_rate']['samples']} samples")
        if mismatches:
            raise SnnhwError(f"the synthesised netlist for {target} differs from the golden "
                             f"model in {mismatches} spikes")


def _cmd_sweep(args: argparse.Namespace) -> None:
    from .sweep import SweepOptions, sweep

    points = sweep(args.model, args.out, SweepOptions(
        bits=tuple(args.bits), lanes=tuple(args.lanes), targets=tuple(args.targets), samples=args.samples,
        synth=args.synth, jobs=args.jobs, progress=not args.quiet))
    for target in args.targets:
        on_target = [p for p in points if p.target == target]
        front = [p for p in on_target if p.pareto]
        if not front:
            print(f"{target}: no configuration fits")
            continue
        fastest = min(front, key=lambda p: p.us_per_image)
        print(f"{target}: fastest fitting point: {fastest.bits}-bit, P={fastest.lanes}, "
              f"{fastest.weight_memory} weights, {fastest.us_per_image:.0f} us/image, "
              f"{fastest.cells} cells ({fastest.source}), {100 * fastest.accuracy:.2f} %; "
              f"Pareto front: {len(front)} of {len(on_target)} points")


def _cmd_run(args: argparse.Namespace) -> None:
    from .buildfolder import open_build
    from .run import open_serial, run_board

    open_build(args.folder, checked=("ir",))     # the build first, then the port
    run_board(args.folder, open_serial(args.port, args.baud), samples=args.samples,
              baud=args.baud)


def _add_build_options(p: argparse.ArgumentParser, target: str | None = None) -> None:
    p.add_argument("--fixed", type=int, default=8, metavar="N",
                   help="signed weight width in bits, 2..16 (default 8)")
    p.add_argument("--membrane-bits", type=int, default=None, metavar="M",
                   help="membrane width in bits, 2..32 (default: from the worst-case bound)")
    p.add_argument("--leak-bits", type=int, default=8, metavar="F",
                   help="fraction bits of the leak multiplier, 0..16 (default 8)")
    p.add_argument("--input-bits", type=int, default=8, metavar="B",
                   help="unsigned width of a direct-encoding input (pixels), 2..8 (default 8: "
                        "8-bit pixels exactly); spike inputs ignore it")
    p.add_argument("--sim", default="fast", choices=["fast", "verilator", "icarus"],
                   help="fast: the compiled Verilator harness, every layer checked (default); "
                        "verilator, icarus: the cocotb testbench (output layer, the readable "
                        "reference)")
    p.add_argument("--target", default=target, metavar="FPGA",
                   help="an FPGA (ice40-up5k, ice40-hx8k, ecp5-25k, ecp5-85k) or a board "
                        "(icebreaker, ulx3s): lanes and weight memory not given are chosen as "
                        "the fastest configuration whose estimated resources fit it"
                        + (f" (default {target})" if target else " (default: none; P=1, rom)"))
    p.add_argument("--lanes", type=int, default=None, choices=[1, 2, 4, 8, 16],
                   help="neurons updated per clock in every layer core (default: chosen for "
                        "--target, else 1)")
    p.add_argument("--weight-memory", default=None, choices=["rom", "spram"],
                   help="rom: weights in the bitstream; spram: the largest layer's weights "
                        "written at run time, so Yosys maps them onto iCE40 UP SPRAM (default: "
                        "chosen for --target, else rom)")
    p.add_argument("--membrane-memory", default=None, choices=["bram", "banked", "spram"],
                   help="bram: membranes in block RAM, one update per clock; banked: each "
                        "convolution over spikes keeps its membranes in K block-RAM banks and "
                        "updates a whole kernel row (K taps) per clock; spram: the largest "
                        "layers' membranes in single-ported memories Yosys maps onto iCE40 UP "
                        "SPRAM, those cores taking two clocks per update (default: chosen for "
                        "--target, else bram)")
    p.add_argument("--samples", type=_integer(0), default=None,
                   help="test samples checked spike for spike on the RTL (default: all; 0 "
                        "skips)")
    p.add_argument("--trace", type=_integer(0), default=None, metavar="SAMPLE",
                   help="also write trace/sample<SAMPLE>.vcd, that test sample's simulation "
                        "with every signal (GTKWave, Surfer); report.html shows its spikes "
                        "(default: sample 0's, no VCD)")
    p.add_argument("--stall", type=_probability, default=0.3,
                   help="probability of a stall cycle on input valid / output ready (default 0.3)")


def _add_nir_options(p: argparse.ArgumentParser) -> None:
    from .interop.conventions import CONVENTIONS

    g = p.add_argument_group("NIR models (model.nir)")
    g.add_argument("--from", dest="source", default="nir", choices=list(CONVENTIONS),
                   help="the exporter, for how its neurons are discretised (docs/nir.md; "
                        "default nir: the NIR equations with --dt)")
    g.add_argument("--dt", type=float, default=None,
                   help="time step in seconds (default: the exporter's: snntorch 1e-4, norse "
                        "1e-3; required for --from nir)")
    g.add_argument("--reset", choices=["zero", "subtract"], default=None,
                   help="reset of the neurons (default: the exporter's; NIR says zero)")
    g.add_argument("--data", help="test data: mnist-subset, nmnist, dvs-gesture, cifar10-dvs, "
                                  "or FILE.npz (inputs [N, T, ...], labels [N])")
    g.add_argument("--data-path", help="folder of an event data set")
    g.add_argument("--encoding", choices=["bernoulli", "latency", "direct"], default=None,
                   help="how mnist-subset pixels become inputs (default bernoulli)")
    g.add_argument("--timesteps", type=_integer(1), default=None,
                   help="timesteps per sample (not for an .npz, which has its own)")
    g.add_argument("--seed", type=_integer(0), default=0,
                   help="seed of a random encoding (default 0)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="snnhw", description=(
        "Train spiking networks, build them as bit-exact fixed-point hardware, verify and report."))
    parser.add_argument("--version", action="version", version=f"snnhw {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a network from a recipe, write model.pt")
    p.add_argument("recipe", help="TOML recipe, e.g. train/stbp_mlp.toml")
    p.add_argument("--out", help="model file (default build/<name>/model.pt)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe key, e.g. --set epochs=3 --set data_path=/data "
                        "(repeatable)")
    p.add_argument("--nproc", type=_integer(1), default=1,
                   help="data-parallel training processes on this machine (torch.distributed: "
                        "gloo, NCCL with --device cuda; default 1); under torchrun its world "
                        "is used instead")
    p.add_argument("--device", choices=("cpu", "cuda"),
                   help="train on the CPU or a CUDA GPU (default: the recipe's device key, "
                        "cpu); model.pt is the same either way")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("build", help="quantize, generate Verilog, cosimulate, report")
    p.add_argument("model", help="model.pt written by snnhw train, or a NIR graph (.nir)")
    p.add_argument("--out", help="output folder (default build/<model name>/hw); an earlier "
                                 "snnhw build there is replaced, any other folder is refused")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_build_options(p)
    _add_nir_options(p)
    p.set_defaults(func=_cmd_build)

    p = sub.add_parser("import", help="read a NIR graph and its test data into a model.pt")
    p.add_argument("model", help="NIR graph (.nir) exported by snnTorch, Norse, Sinabs, ...")
    p.add_argument("--out", required=True, help="model.pt to write (never replaced)")
    _add_nir_options(p)
    p.set_defaults(func=_cmd_import)

    p = sub.add_parser("export", help="write a model.pt as a NIR graph")
    p.add_argument("model", help="model.pt written by snnhw train or import")
    p.add_argument("--nir", required=True, help="NIR file to write (never replaced)")
    p.add_argument("--dt", type=float, default=1e-4,
                   help="time step in seconds the graph's time constants are written for "
                        "(default 1e-4, what snnTorch's importer assumes)")
    p.add_argument("--pool", choices=["avg", "sum"], default="avg",
                   help="average pooling as AvgPool2d (default; snnTorch reads it) or as "
                        "SumPool2d with 1/k^2 in the next weights (Norse and Sinabs read it)")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("sweep", help="the design space of a model: weight bits x lanes x "
                       "weight memory x targets, estimated or synthesised, Pareto front")
    p.add_argument("model", help="model.pt written by snnhw train or snnhw import")
    p.add_argument("--out", default=None,
                   help="output folder (default build/<name>/sweep; replaced only if snnhw "
                        "wrote it)")
    p.add_argument("--bits", type=_integer(2, 16), nargs="+", default=[4, 6, 8],
                   help="weight widths (default 4 6 8)")
    p.add_argument("--lanes", type=int, nargs="+", default=[1, 2, 4, 8, 16],
                   choices=[1, 2, 4, 8, 16], help="lanes per core (default: all)")
    p.add_argument("--targets", nargs="+", default=["ice40-up5k", "ice40-hx8k", "ecp5-25k",
                                                    "ecp5-85k"],
                   choices=["ice40-up5k", "ice40-hx8k", "ecp5-25k", "ecp5-85k"],
                   help="FPGAs (default: all)")
    p.add_argument("--samples", type=_integer(1), default=100,
                   help="test samples the cycles per timestep are the mean over (default 100)")
    p.add_argument("--synth", action="store_true",
                   help="synthesise every point that fits by the estimates (Yosys + nextpnr; "
                        "minutes per point)")
    p.add_argument("--jobs", type=_integer(1), default=None,
                   help="syntheses at once (default: one per core)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser("synth", help="synthesise a build folder with Yosys + nextpnr")
    p.add_argument("folder", help="folder written by snnhw build")
    p.add_argument("--target", default=None,
                   choices=["ice40-up5k", "ice40-hx8k", "ecp5-25k", "ecp5-85k"],
                   help="FPGA (default: the build's --target, else ice40-up5k)")
    p.add_argument("--router", default="router1", choices=["router1", "router2"],
                   help="nextpnr's router (default router1); router2 converges on large, "
                        "block-RAM-heavy designs where router1 does not")
    p.add_argument("--seed", type=int, default=None,
                   help="nextpnr's placement seed (default 1); another seed places the "
                        "design anew: try one when routing does not converge")
    p.add_argument("--gate-level", action="store_true",
                   help="also simulate the synthesised netlist (vendor cell models) against "
                        "the golden model on every test sample of the build")
    p.add_argument("--sim", default="fast", choices=["fast", "verilator", "icarus"],
                   help="gate-level simulator: fast: the compiled Verilator harness "
                        "(default); verilator, icarus: the cocotb testbench (Icarus: iCE40 "
                        "only)")
    p.add_argument("--board", choices=["icebreaker", "ulx3s"],
                   help="instead: a bitstream of the network behind the UART host link for "
                        "this board (amaranth-boards pins), in FOLDER/board/<board>/")
    p.add_argument("--lanes", type=int, default=None, choices=[1, 2, 4, 8, 16],
                   help="lanes of the board design's cores (default: the build's)")
    p.add_argument("--baud", type=_integer(1200, BAUD_MAX), default=115_200,
                   help="UART baud rate (default 115200)")
    p.set_defaults(func=_cmd_synth)

    p = sub.add_parser("run", help="stream a build's test samples through a board over UART")
    p.add_argument("folder", help="folder written by snnhw build (IR and dataset)")
    p.add_argument("--port", required=True, help="serial port of the board, e.g. /dev/ttyUSB1")
    p.add_argument("--baud", type=_integer(1200, BAUD_MAX), default=115_200,
                   help="UART baud rate (default 115200)")
    p.add_argument("--samples", type=_integer(1), default=100,
                   help="test samples to send (default 100)")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("demo", help="train the bundled STBP MLP, build it, cosimulate, report")
    p.add_argument("--out", default="build/demo", help="output folder (default build/demo)")
    p.add_argument("--recipe", default=None, metavar="TOML",
                   help="training recipe (default: the bundled train/stbp_mlp.toml)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_build_options(p, target="ice40-up5k")
    p.set_defaults(func=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:       # --help, --version, or a one-line argument error
        return int(exc.code or 0)
    try:
        with signals_raise():
            args.func(args)
    except SnnhwError as exc:
        print("snnhw: error: " + " ".join(str(exc).split()), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("snnhw: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT
    except Terminated as exc:
        print(f"snnhw: {exc}", file=sys.stderr)
        return 128 + exc.signum
    return 0


if __name__ == "__main__":
    sys.exit(main())
