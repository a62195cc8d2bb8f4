# Set by the bench role.
export BENCH_ROOT=/opt/bench
PATH="$PATH:/opt/bench/bin"
