#!/usr/bin/env bash
# A one-node SLURM on this machine (root, no systemd, no cgroups), to run the workflow through
# workflow/profiles/slurm in CI and tests/test_slurm.py. Installs Debian's slurm-wlm and munge when
# missing, writes /etc/slurm/slurm.conf (only if absent or written by this script), starts munged,
# slurmctld and slurmd, and waits until the node is idle. Idempotent: a running cluster is reused.
# No accounting (no slurmdbd): finished jobs are recorded by jobcomp/filetxt in $JOBCOMP_LOG.
set -euo pipefail

CONF=/etc/slurm/slurm.conf
MARK="# written by ucmsc .ci/slurm_single_node.sh"
JOBCOMP_LOG=/var/log/slurm/jobcomp.log
NODE=$(hostname -s)

log() { echo "slurm_single_node: $*" >&2; }

node_state() { sinfo -h -n "$NODE" -o %T 2>/dev/null | head -n1 || true; }

if command -v sinfo >/dev/null && scontrol ping 2>/dev/null | grep -q UP && [[ $(node_state) =~ ^(idle|mixed|allocated) ]]; then
  log "already running: node $NODE is $(node_state)"
  exit 0
fi

need=()
command -v slurmctld >/dev/null || need+=(slurm-wlm)
command -v munged >/dev/null || need+=(munge)
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || { log "need root to install ${need[*]}"; exit 1; }
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
[ "$(id -u)" -eq 0 ] || { log "need root to start the daemons"; exit 1; }

mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge
if [ -e "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then
  log "$CONF exists and was not written here: leaving it as it is"
else
  cpus=$(nproc)
  # RealMemory in MiB: the machine's memory less 1 GiB (or a quarter, if smaller) for the OS and daemons.
  total=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
  headroom=$((total / 4 < 1024 ? total / 4 : 1024))
  cat >"$CONF" <<EOF
$MARK
ClusterName=ucmsc
SlurmctldHost=$NODE
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$JOBCOMP_LOG
ReturnToService=2
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=$NODE CPUs=$cpus RealMemory=$((total - headroom)) State=UNKNOWN
PartitionName=main Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
  log "wrote $CONF (CPUs=$cpus RealMemory=$((total - headroom)) MiB)"
fi

# munge: a key, its run directory, the daemon as the munge user
[ -s /etc/munge/munge.key ] || mungekey --create --keyfile /etc/munge/munge.key
chown munge:munge /etc/munge/munge.key /run/munge /var/log/munge 2>/dev/null || true
chmod 0400 /etc/munge/munge.key
chmod 0755 /run/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.2; done
fi
munge -n | unmunge >/dev/null || { log "munged does not answer"; exit 1; }

pgrep -x slurmctld >/dev/null || /usr/sbin/slurmctld
for _ in $(seq 50); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.2; done
pgrep -x slurmd >/dev/null || /usr/sbin/slurmd

for _ in $(seq 60); do
  state=$(node_state)
  if [[ $state =~ ^(idle|mixed|allocated) ]]; then
    log "node $NODE is $state"
    exit 0
  fi
  # a node left down or drained by an earlier run of the daemons
  [[ $state =~ ^(down|drain) ]] && scontrol update NodeName="$NODE" State=RESUME 2>/dev/null || true
  sleep 1
done
log "node $NODE did not become idle (state: $(node_state)); see /var/log/slurm/"
exit 1
