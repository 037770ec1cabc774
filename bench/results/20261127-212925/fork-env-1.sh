#!/bin/sh
# Written by dev.lanes.bench.Report: JMH forks of pytorch start through this script.
export MALLOC_MMAP_MAX_='0'
export LANES_TORCH_OPENBLAS_THREADS='1'
export MALLOC_TRIM_THRESHOLD_='1099511627776'
exec '/usr/lib/jvm/temurin-25-jdk-amd64/bin/java' "$@"
