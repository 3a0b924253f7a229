#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, to try the cluster path (hydra/launcher=slurm, srun DDP,
# requeue) without a real cluster: munge, slurmctld and slurmd run as plain daemons (no systemd),
# their configuration, state and logs under $LOCAL_SLURM_DIR (git-ignored). Runs as root (SlurmUser=root,
# fine for a local test cluster, never for a shared one).
#   scripts/slurm_cluster.sh start   (make slurm)        scripts/slurm_cluster.sh stop   (make slurm-stop)
#   scripts/slurm_cluster.sh clean   stop, then remove $LOCAL_SLURM_DIR (its job records and logs too)
# Settings (environment): LOCAL_SLURM_DIR (.slurm), LOCAL_SLURM_PARTITION (local), LOCAL_SLURM_CTLD_PORT (6817),
# LOCAL_SLURM_D_PORT (6818); other ports let a second cluster run beside the first (the tests do).
set -euo pipefail

DIR=$(realpath -m "${LOCAL_SLURM_DIR:-.slurm}")
PARTITION=${LOCAL_SLURM_PARTITION:-local}
CTLD_PORT=${LOCAL_SLURM_CTLD_PORT:-6817}
D_PORT=${LOCAL_SLURM_D_PORT:-6818}
CONF=$DIR/slurm.conf
SOCKET=$DIR/munge/munge.socket
export SLURM_CONF=$CONF  # what sinfo, sbatch, scontrol and sacct read

fail() { echo "error: $*" >&2; exit 1; }

install_slurm() {
    command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null && return
    echo "SLURM is not installed: installing Debian's slurm-wlm and munge"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq slurm-wlm munge >/dev/null \
        || { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq slurm-wlm munge >/dev/null; } \
        || fail "could not install SLURM (apt-get install slurm-wlm munge)"
}

pid_of() {  # the pid in $DIR/<name>.pid while that process lives
    [ -f "$DIR/$1.pid" ] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null && cat "$DIR/$1.pid"
}

start_munge() {
    mkdir -p "$DIR/munge"
    chmod 700 "$DIR/munge"
    # This cluster's own key: a real cluster shares one key among all its nodes.
    [ -f "$DIR/munge/munge.key" ] || mungekey --create --keyfile="$DIR/munge/munge.key" >/dev/null
    [ -n "$(pid_of munged)" ] && return
    # --force: munged refuses a root-owned key and socket unless told it may.
    munged --force --socket="$SOCKET" --key-file="$DIR/munge/munge.key" --pid-file="$DIR/munged.pid" \
        --log-file="$DIR/log/munged.log" --seed-file="$DIR/munge/munged.seed" \
        || fail "munged did not start, see $DIR/log/munged.log"
}

write_conf() {
    # This node as slurmd measures it (name, cores, memory), reached on 127.0.0.1.
    local node
    node=$(slurmd -C | head -n 1)
    [[ $node == NodeName=* ]] || fail "slurmd -C did not describe this node: $node"
    local host=${node#NodeName=}
    host=${host%% *}
    cat >"$CONF" <<EOF
# Written by scripts/slurm_cluster.sh: a one-node cluster on this machine.
ClusterName=local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$D_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCKET
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
# No cgroups here (a container): track a job's processes by their parent, bind nothing.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
SwitchType=switch/none
# Batch jobs may be requeued (scontrol requeue, preemption, a node failing).
JobRequeue=1
# After SIGTERM, a job has this long to save its state before SIGKILL.
KillWait=30
ReturnToService=2
MinJobAge=600
# No accounting database: finished jobs go to a text log that \`sacct --completion\` reads.
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.txt
JobAcctGatherType=jobacct_gather/linux
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

node_state() {
    sinfo -h -N -o %t 2>/dev/null | head -n 1
}

start() {
    install_slurm
    mkdir -p "$DIR/log" "$DIR/state" "$DIR/spool"
    start_munge
    write_conf
    if [ -z "$(pid_of slurmctld)" ]; then
        slurmctld -f "$CONF" || fail "slurmctld did not start, see $DIR/log/slurmctld.log"
    fi
    if [ -z "$(pid_of slurmd)" ]; then
        slurmd -f "$CONF" || fail "slurmd did not start, see $DIR/log/slurmd.log"
    fi
    local state=""
    for _ in $(seq 60); do
        state=$(node_state)
        [[ $state == idle* || $state == mix* || $state == alloc* ]] && break
        sleep 0.5
    done
    [[ $state == idle* || $state == mix* || $state == alloc* ]] \
        || fail "the node did not come up (state '${state:-unknown}'), see $DIR/log/slurmctld.log and slurmd.log"
    echo "SLURM cluster up: partition $PARTITION on $(sinfo -h -N -o '%N (%c CPUs, %m MB)'). Use it with:"
    echo "export SLURM_CONF=$CONF"
}

stop_daemon() {
    local pid
    pid=$(pid_of "$1" || true)
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    rm -f "$DIR/$1.pid"
}

stop() {
    if [ -n "$(pid_of slurmctld)" ]; then
        # Jobs first: their processes would outlive slurmd.
        local jobs
        jobs=$(squeue -h -o %i 2>/dev/null || true)
        if [ -n "$jobs" ]; then
            # shellcheck disable=SC2086
            scancel $jobs 2>/dev/null || true
            for _ in $(seq 90); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.5; done
        fi
    fi
    stop_daemon slurmd
    stop_daemon slurmctld
    stop_daemon munged
    echo "stopped (job records and logs stay in $DIR)"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    clean) stop; rm -rf "$DIR"; echo "removed $DIR" ;;
    *) fail "usage: $0 start|stop|clean" ;;
esac
