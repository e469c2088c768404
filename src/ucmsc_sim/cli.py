"""``ucmsc-simulate``: write the synthetic raw data cuts of one trial or all."""

from __future__ import annotations

import argparse
from pathlib import Path

from ucmsc_sim import sdtm
from ucmsc_sim.deliver import write_cut
from ucmsc_sim.generate import simulate_trial
from ucmsc_sim.trials import TRIALS, scaled

DEFAULT_SEEDS = {"nafld_efficacy": 20240601, "t2dm_safety": 20230726, "dose_ranging": 20250301,
                 sdtm.TRIAL: 20230630}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("resources/datacuts"), help="root folder of the data cuts")
    parser.add_argument("--trial", choices=sorted([*TRIALS, sdtm.TRIAL]), action="append",
                        help="trial to simulate (default: all)")
    parser.add_argument("--seed", type=int, help="override the trial's default seed")
    parser.add_argument("--subjects", type=int,
                        help="enlarge the trial to this many subjects (benchmarks; not calibrated)")
    parser.add_argument("--final-only", action="store_true", help="write only the final cut")
    args = parser.parse_args(argv)
    # The SDTM-shaped delivery has a fixed size and a single (final) cut; --subjects enlarges the others only.
    default = sorted(TRIALS) if args.subjects is not None else [*sorted(TRIALS), sdtm.TRIAL]
    if args.subjects is not None and sdtm.TRIAL in (args.trial or []):
        parser.error(f"--subjects does not apply to {sdtm.TRIAL}")
    for trial in args.trial or default:
        seed = args.seed if args.seed is not None else DEFAULT_SEEDS[trial]
        if trial == sdtm.TRIAL:
            print(sdtm.write_sdtm_cut(args.out, seed))
            continue
        spec = TRIALS[trial] if args.subjects is None else scaled(TRIALS[trial], args.subjects)
        truth = simulate_trial(spec, seed)
        for cut in list(spec.cuts)[-1:] if args.final_only else spec.cuts:
            print(write_cut(truth, cut, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
