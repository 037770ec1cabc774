#!/usr/bin/env bash
# Builds and runs the C FMA-peak probe: 512-bit where the CPU has AVX-512F, and 256-bit (AVX2 + FMA).
# Usage: bench/probe/fma_peak.sh [runs]   (prints "bits=512 gflops=..." lines; the report runs it too)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${TMPDIR:-/tmp}/lanes-fma-peak-$$"
trap 'rm -f "$out"' EXIT
flags="-O2 -mavx2 -mfma"
if grep -qw avx512f /proc/cpuinfo; then
  flags="-O2 -mavx512f -mfma"
fi
gcc $flags "$here/fma_peak.c" -o "$out"
"$out" "${1:-15}"
