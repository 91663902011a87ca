#!/usr/bin/env python3
"""Brian2 (C++ standalone) side of the spiking-network performance comparison.

Builds the network below in Brian2's C++ standalone mode, compiles it, runs the
binary once and prints ONE JSON line on stdout (Brian2's own log goes to stderr):

    /tmp/venv-brian2/bin/python scripts/spiking/brian2_benchmark.py \
        [--dt-ms 1.0] [--duration-s 10] [--seed 1] [--threads 1]

Install Brian2 first with scripts/spiking/install-brian2.sh.

The network (a Rust simulator mirrors it; every detail below is what Brian2 does)
===============================================================================

Units: mV, ms. dt = --dt-ms (1.0 or 0.1), T = --duration-s, steps n = 0 .. round(T/dt)-1,
t_n = n*dt.

Neurons: N = 1000 leaky integrate-and-fire neurons, indices 0..799 excitatory (E),
800..999 inhibitory (I). Parameters: tau_m = 20 ms, theta = 20 mV, V_reset = 0,
t_ref = 2 ms (R = round(t_ref/dt) steps: 2 at dt 1 ms, 20 at dt 0.1 ms).
Initial V_i ~ Uniform[0, 20) mV, independent, from the seeded generator; every
neuron starts non-refractory (last spike at -infinity).

Synapses (fixed random connectivity, drawn once from the seeded generator): every
ordered pair (pre, post) with pre != post is connected independently with
probability p = 0.1. Four Brian2 Synapses objects: E->E (plastic), E->I, I->E, I->I.
No multiple synapses per pair. Voltage jump of a spike of neuron `pre` on `post`:
    pre in E:  +J_E * w,  J_E = 0.2 mV; w plastic on E->E (start 1.0, kept in [0, 2]),
               w = 1 fixed on E->I
    pre in I:  -J_I,      J_I = 1.0 mV (fixed)
Delay = dt for every synapse: a spike emitted at step n is delivered at step n+1.

External drive: each neuron receives 100 independent Poisson inputs at 10 Hz each,
J_ext = 0.4 mV per input spike (Brian2 PoissonInput): at every step a neuron gets
k * J_ext with k ~ Binomial(100, 10 Hz * dt) drawn fresh per neuron and step
(Brian2 samples the binomial exactly here since 100 * p <= 5).

Plasticity (E->E synapses only): additive pair-based STDP with exponential traces,
tau_plus = tau_minus = 20 ms, A_plus = 0.01, A_minus = 1.05 * A_plus = 0.0105,
w_max = 2. Per synapse: a presynaptic trace a_pre and a postsynaptic trace a_post,
both start at 0 and decay as exp(-dt/tau) per step. Implemented EVENT-DRIVEN in Brian2
(the traces are brought up to date only when a pre or post event reaches the synapse,
by the factor exp(-(t - t_last_update)/tau), which is the same as decaying every step).
Since all synapses of one presynaptic neuron see its spikes at the same step, and all
synapses of one postsynaptic neuron see its spikes at the same step, a mirror can keep
one a_pre per presynaptic E neuron and one a_post per postsynaptic E neuron.
    presynaptic event (at the DELIVERY step n+1 of a spike emitted at step n, i.e.
    after the delay dt, together with the voltage jump):
        V_post += J_E * w (if post is not refractory, see below; w before this update)
        a_pre  += 1
        w      <- clip(w - A_minus * a_post, 0, w_max)
    postsynaptic event (at the step the postsynaptic neuron spikes, no delay):
        a_post += 1
        w      <- clip(w + A_plus * a_pre, 0, w_max)

One time step n, in Brian2's default schedule order
(groups, thresholds, synapses, resets; synapse pathways: pre before post):
  1. groups (state update), every neuron i:
        refractory_i = (n - last_i) < R           (last_i = step of last spike)
        if not refractory_i: V_i <- V_i * exp(-dt/tau_m)
     (Brian2 integrates dV/dt = -V/tau_m with method='exact'; "(unless refractory)"
     keeps V constant, i.e. at 0, while refractory.)
  2. thresholds: neuron i spikes at step n iff (not refractory_i) and V_i > theta;
     then last_i = n and i counts as refractory from now on (the rest of step n too).
  3. synapses, in this order:
     a. E->E pre pathway (delivers spikes of step n-1): voltage jump, a_pre += 1,
        depression with a_post as it stands (decayed to t_n, not yet incremented
        by postsynaptic spikes of step n). Also E->I, I->E, I->I deliveries
        (spikes of step n-1). All pre pathways have Brian2 order -1; their relative
        order does not matter (they only add to V and touch disjoint weights).
     b. PoissonInput: V_i += Binomial(100, 10 Hz*dt) * J_ext.
     c. E->E post pathway (spikes of step n): a_post += 1, potentiation with a_pre
        (which already includes presynaptic spikes delivered at step n).
     Every voltage increment in 3a and 3b is multiplied by int(not refractory_i):
     input arriving while a neuron is refractory (including the step at which it
     spiked) is discarded, not stored.
  4. resets: every neuron that spiked at step n: V_i = 0.
So input delivered at step n is decayed once (at step n+1) before it is compared
with theta at step n+1. A neuron that spikes at step n ignores input at steps
n .. n+R-1 and can next spike at step n+R+1 at the earliest.

Reported numbers
================
neurons, synapses (all recurrent), plastic_synapses (E->E) are counted from the
generated connectivity. excitatory_rate_hz / inhibitory_rate_hz: spike count over the
whole run / (number of neurons in the population * duration). mean_plastic_weight_start
is the configured initial E->E weight (every w = 1.0; Brian2 standalone cannot read
variables back before the binary has run); mean_plastic_weight_end is the mean E->E
weight read back after the run.

Timing:
  build_s   wall time of everything before the binary runs: Brian2's network
            preparation and C++ code generation (the run() call, which in standalone
            mode only records the run, plus writing the project in device.build) and
            compiling it with make (fresh directory, so a full compile every time).
            build_s = codegen_s + compile_s; compile_s is Brian2's own timer around
            'make' (device.timers['compile']['make']).
  run_s     the simulation loop only, as measured inside the compiled binary by Brian2's
            Network::run (written to results/last_run_info.txt and read back as
            device._last_run_time): with OpenMP (--threads >= 1) it is wall time from
            omp_get_wtime() around the loop over time steps; it excludes process
            start-up, synapse creation, initial values and writing results.
            (With --threads 0 Brian2 compiles without OpenMP and measures this with
            std::clock(), i.e. CPU time, not wall time.)
  binary_wall_s  wall time of the whole 'main' process (Brian2's timer around the
            subprocess), which adds start-up, connectivity generation and result I/O.
  realtime_factor = run_s / duration_s (below 1 means faster than real time).
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dt-ms", type=float, default=1.0, help="time step in ms (default 1.0)")
    p.add_argument("--duration-s", type=float, default=10.0, help="simulated time in s (default 10)")
    p.add_argument("--seed", type=int, default=1, help="seed of Brian2's generator (default 1)")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="prefs.devices.cpp_standalone.openmp_threads (default 1; 0 builds without OpenMP)",
    )
    # Not part of the benchmark definition: the defaults ARE the specification. With
    # them the network is silent after the start (see BRIAN2.md); these two flags exist
    # only to look at an active regime of the same network, and are reported in the JSON.
    p.add_argument("--ext-rate-hz", type=float, default=10.0, help="rate of each external Poisson input (spec: 10)")
    p.add_argument("--j-ext-mv", type=float, default=0.4, help="external input weight in mV (spec: 0.4)")
    p.add_argument(
        "--directory",
        default=None,
        help="C++ project directory (default: a fresh temporary directory, deleted afterwards; "
        "reusing a directory makes make incremental, so build_s is then no full compile)",
    )
    p.add_argument("--keep-directory", action="store_true", help="do not delete the temporary project")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.dt_ms <= 0 or args.duration_s <= 0 or args.threads < 0:
        sys.exit("brian2_benchmark.py: --dt-ms and --duration-s must be > 0, --threads >= 0")

    t_import = time.perf_counter()
    import numpy as np
    import brian2
    from brian2 import (
        Network,
        NeuronGroup,
        PoissonInput,
        SpikeMonitor,
        Synapses,
        defaultclock,
        device,
        ms,
        mV,
        Hz,
        prefs,
        seed,
        set_device,
    )

    prefs.logging.console_log_level = "WARNING"  # Brian2 logs to stderr; stdout is the JSON line
    directory = args.directory or tempfile.mkdtemp(prefix="brian2-bench-")
    remove_dir = args.directory is None and not args.keep_directory
    set_device("cpp_standalone", directory=directory, build_on_run=False)
    prefs.devices.cpp_standalone.openmp_threads = args.threads
    seed(args.seed)

    dt = args.dt_ms * ms
    defaultclock.dt = dt
    duration = args.duration_s * brian2.second

    # --- parameters (see the module docstring) ---
    N_E, N_I = 800, 200
    tau_m = 20 * ms
    theta = 20 * mV
    t_ref = 2 * ms
    J_E = 0.2 * mV
    J_I = 1.0 * mV
    J_ext = args.j_ext_mv * mV  # spec: 0.4 mV
    n_ext, rate_ext = 100, args.ext_rate_hz * Hz  # spec: 10 Hz
    p_conn = 0.1
    tau_plus = tau_minus = 20 * ms
    A_plus = 0.01
    A_minus = 1.05 * A_plus
    w_max = 2.0
    w_start = 1.0

    t_codegen = time.perf_counter()
    P = NeuronGroup(
        N_E + N_I,
        "dv/dt = -v / tau_m : volt (unless refractory)",
        threshold="v > theta",
        reset="v = 0*mV",
        refractory=t_ref,
        method="exact",
        name="neurons",
    )
    P.v = "rand() * theta"
    PE, PI = P[:N_E], P[N_E:]

    poisson = PoissonInput(P, "v", N=n_ext, rate=rate_ext, weight="J_ext * int(not_refractory)")

    stdp_eqs = """
        w : 1
        dapre/dt = -apre / tau_plus : 1 (event-driven)
        dapost/dt = -apost / tau_minus : 1 (event-driven)
    """
    S_EE = Synapses(
        PE,
        PE,
        stdp_eqs,
        on_pre="""
            v_post += J_E * w * int(not_refractory_post)
            apre += 1
            w = clip(w - A_minus * apost, 0, w_max)
        """,
        on_post="""
            apost += 1
            w = clip(w + A_plus * apre, 0, w_max)
        """,
        delay=dt,
        name="syn_ee",
    )
    S_EE.connect(condition="i != j", p=p_conn)
    S_EE.w = w_start
    S_EI = Synapses(PE, PI, on_pre="v_post += J_E * int(not_refractory_post)", delay=dt, name="syn_ei")
    S_EI.connect(p=p_conn)
    S_IE = Synapses(PI, PE, on_pre="v_post -= J_I * int(not_refractory_post)", delay=dt, name="syn_ie")
    S_IE.connect(p=p_conn)
    S_II = Synapses(PI, PI, on_pre="v_post -= J_I * int(not_refractory_post)", delay=dt, name="syn_ii")
    S_II.connect(condition="i != j", p=p_conn)

    spikes = SpikeMonitor(P, record=False, name="spikes")  # counts only

    # An explicit Network: the "magic" network would silently drop objects that no
    # Python variable refers to (e.g. an unassigned PoissonInput).
    net = Network(P, poisson, S_EE, S_EI, S_IE, S_II, spikes)
    net.run(duration)  # standalone: records the run, generates no files yet
    device.build(directory=directory, compile=True, run=False, debug=False)
    build_s = time.perf_counter() - t_codegen
    compile_s = float(device.timers["compile"]["make"] or 0.0)

    device.run(directory=directory, with_output=False)
    run_s = float(device._last_run_time)
    binary_wall_s = float(device.timers["run_binary"])
    if abs(device._last_run_completed_fraction - 1.0) > 1e-9:
        sys.exit(f"brian2_benchmark.py: run stopped early ({device._last_run_completed_fraction})")

    counts = np.asarray(spikes.count[:], dtype=float)
    n_syn = {name: len(S) for name, S in (("ee", S_EE), ("ei", S_EI), ("ie", S_IE), ("ii", S_II))}
    w_end = np.asarray(S_EE.w[:], dtype=float)

    result = {
        "simulator": "brian2",
        "brian2_version": brian2.__version__,
        "dt_ms": args.dt_ms,
        "duration_s": args.duration_s,
        "neurons": N_E + N_I,
        "synapses": int(sum(n_syn.values())),
        "plastic_synapses": int(n_syn["ee"]),
        "build_s": round(build_s, 3),
        "run_s": round(run_s, 4),
        "realtime_factor": round(run_s / args.duration_s, 5),
        "excitatory_rate_hz": round(float(counts[:N_E].sum() / (N_E * args.duration_s)), 4),
        "inhibitory_rate_hz": round(float(counts[N_E:].sum() / (N_I * args.duration_s)), 4),
        "mean_plastic_weight_start": w_start,
        "mean_plastic_weight_end": round(float(w_end.mean()), 6),
        "seed": args.seed,
        # extras
        "threads": args.threads,
        "ext_rate_hz": args.ext_rate_hz,
        "j_ext_mv": args.j_ext_mv,
        "spec_defaults": args.ext_rate_hz == 10.0 and args.j_ext_mv == 0.4,
        "codegen_s": round(build_s - compile_s, 3),
        "compile_s": round(compile_s, 3),
        "binary_wall_s": round(binary_wall_s, 4),
        "synapses_by_pathway": n_syn,
        "spikes": int(counts.sum()),
        "run_s_source": "last_run_info.txt (Network::run loop, "
        + ("omp_get_wtime wall time)" if args.threads >= 1 else "std::clock CPU time)"),
        "compile_args": list(prefs.codegen.cpp.extra_compile_args_gcc),
        "python_s_total": round(time.perf_counter() - t_import, 3),
    }
    print(json.dumps(result), flush=True)
    if remove_dir:
        shutil.rmtree(directory, ignore_errors=True)
    elif args.directory is None:
        print(f"kept project directory {directory}", file=sys.stderr)


if __name__ == "__main__":
    main()
