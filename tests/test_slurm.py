"""One trial's cut through workflow/profiles/slurm on a real SLURM (one node on this machine, started by
.ci/slurm_single_node.sh) against the same cut built locally: the jobs must go through sbatch, the ARD must not
change. Skips where SLURM cannot be started, unless UCMSC_REQUIRE_SLURM=1 (as .ci/run sets)."""

import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import ROOT
from test_workflow import _copy_project, _snakemake

SCRIPT = ROOT / ".ci" / "slurm_single_node.sh"
TRIAL, CUT = "nafld_efficacy", "2017-06-30"  # the efficacy trial's interim cut: the smallest with figures and audit
STAGES = ("ingest", "clean", "derive", "analyze", "audit", "figures", "report")
COMPARED = ("ard.csv", "ard_cards.csv", "audit.csv")


def test_every_job_declares_memory_and_time_and_a_cut_is_one_cluster_job():
    """Dry runs, no SLURM needed: without a profile every job states its own memory and time; through the SLURM
    profile the jobs of each cut form one group (one sbatch), and nothing else is grouped."""
    from conftest import configured_cuts

    # Snakemake's own console (a default workflow profile may set another logger)
    dry = _snakemake(ROOT, "-n", "--forceall", "--workflow-profile", "none")
    assert dry.returncode == 0, dry.stderr[-3000:]
    jobs = re.findall(r"^(?:local)?rule (\w+):\n(.*?)(?=^\S|\Z)", dry.stdout + dry.stderr, flags=re.M | re.S)
    ran = [(name, body) for name, body in jobs if name != "all"]
    assert {name for name, _ in ran} == {*STAGES, "diff", "index"}
    assert sum(name == "ingest" for name, _ in ran) == len(configured_cuts())
    for name, body in ran:
        declared = re.search(r"resources: (.*)", body).group(1)
        assert re.search(r"\bmem_mb=\d+", declared) and re.search(r"\bruntime=\d+", declared), (name, declared)

    grouped = _snakemake(ROOT, "-n", "--forceall", "--workflow-profile", "workflow/profiles/slurm")
    assert grouped.returncode == 0, grouped.stderr[-3000:]
    groups = re.findall(r"Group job (\S+) \(jobs in lexicogr\. order\)", grouped.stdout + grouped.stderr)
    assert sorted(groups) == sorted(f"{trial}_{cut}" for trial, cut in configured_cuts())


def _unavailable(reason: str):
    if os.environ.get("UCMSC_REQUIRE_SLURM") == "1":
        pytest.fail(f"UCMSC_REQUIRE_SLURM=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def slurm():
    """A running SLURM with an idle node: reused, or started by the script where slurm-wlm is installed."""
    if not shutil.which("sinfo") and os.environ.get("UCMSC_REQUIRE_SLURM") != "1":
        _unavailable("slurm-wlm is not installed (.ci/run installs it; or run .ci/slurm_single_node.sh as root)")
    try:
        started = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        _unavailable(f"{SCRIPT.name} did not finish in 10 minutes")
    except OSError as error:
        _unavailable(f"{SCRIPT.name} could not run: {error}")
    if started.returncode != 0:
        _unavailable(f"SLURM could not be started here: {started.stderr.strip()[-1500:]}")
    config = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, check=True).stdout
    return dict(re.findall(r"^(\w+)\s*=\s*(.*?)\s*$", config, flags=re.M))


def _cluster_record(job_id: str, slurm_config: dict) -> str:
    """SLURM's own record of a job: the job-completion log when there is one, else scontrol (kept MinJobAge)."""
    if slurm_config.get("JobCompType") == "jobcomp/filetxt":
        log = slurm_config["JobCompLoc"]
        for _ in range(30):  # slurmctld writes the record when the job ends
            with open(log, encoding="utf-8") as handle:
                lines = [line for line in handle if line.startswith(f"JobId={job_id} ")]
            if lines:
                return lines[-1]
            time.sleep(1)
        return ""
    shown = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True)
    return shown.stdout


def _timed(workdir, *args):
    start = time.perf_counter()
    result = _snakemake(workdir, *args)
    wall = time.perf_counter() - start
    assert result.returncode == 0, result.stderr[-4000:]
    return wall, result


@pytest.mark.e2e
@pytest.mark.slurm
def test_a_cut_through_slurm_is_one_cluster_job_and_gives_the_local_ard(slurm, tmp_path, capsys):
    select = ("--config", f"trial={TRIAL}", f"cut={CUT}")
    local_dir = tmp_path / "local"
    cluster_dir = tmp_path / "cluster"
    local_dir.mkdir()
    cluster_dir.mkdir()
    _copy_project(local_dir)
    _copy_project(cluster_dir)

    local_wall, _ = _timed(local_dir, "--cores", "2", *select)
    cluster_wall, cluster_run = _timed(cluster_dir, "--workflow-profile", "workflow/profiles/slurm", *select)
    output = cluster_run.stdout + cluster_run.stderr

    # Every job of the cut in one sbatch submission, which SLURM records as run in that folder and completed.
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+)", output)
    assert len(submitted) == 1, output[-4000:]
    record = _cluster_record(submitted[0], slurm)
    assert f"WorkDir={cluster_dir}" in record and "JobState=COMPLETED" in record, record or output[-4000:]
    # ... and the stages ran inside that cluster job: its log (kept by the profile) shows each of them.
    logs = list((cluster_dir / ".snakemake" / "slurm_logs").glob(f"group_{TRIAL}_{CUT}_*/{submitted[0]}.log"))
    assert len(logs) == 1, output[-4000:]
    job_log = logs[0].read_text()
    for stage in STAGES:
        assert re.search(rf"^localrule {stage}:$", job_log, flags=re.M), f"{stage} not run in the cluster job"

    for name in COMPARED:
        built_locally = (local_dir / "results" / TRIAL / CUT / name).read_bytes()
        assert built_locally, name
        assert (cluster_dir / "results" / TRIAL / CUT / name).read_bytes() == built_locally, name

    line = (f"SLURM vs local, {TRIAL} {CUT}: local --cores 2 {local_wall:.1f} s; SLURM profile {cluster_wall:.1f} s "
            f"(1 sbatch job, SLURM job id {submitted[0]})")
    with capsys.disabled():
        print(f"\n{line}")
    timings = os.environ.get("UCMSC_SLURM_TIMINGS")
    if timings:  # a CSV row per run, for the README's numbers
        new = not os.path.exists(timings)
        with open(timings, "a", encoding="utf-8") as handle:
            if new:
                handle.write("trial,cut,local_wall_s,slurm_wall_s,sbatch_jobs,when_utc\n")
            handle.write(f"{TRIAL},{CUT},{local_wall:.1f},{cluster_wall:.1f},{len(submitted)},"
                         f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n")
