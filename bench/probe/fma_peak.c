/*
 * FMA-peak probe in C: the float32 multiply-add throughput of one core, as a compiler emits it from
 * intrinsics, with no memory traffic. The Java probe (bench PeakBench) is checked against it and the
 * report's "% of peak" uses the larger of the two (see bench/RESULTS.md).
 *
 * Independent accumulators cover FMA latency x FMA pipes (4 cycles x 2 pipes = 8 on current Intel
 * and AMD cores): 16 zmm of AVX-512's 32 registers, 12 ymm of AVX2's 16 (16 would spill: gcc without
 * AVX-512VL has only ymm0-15, as an AVX2-only core). Build and run (bench/probe/fma_peak.sh does both):
 *   gcc -O2 -mavx512f -mfma fma_peak.c -o fma_peak && ./fma_peak
 * Output, one line per width the CPU and compiler support:  "bits=512 gflops=116.81 best of 15 runs"
 */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROUNDS (1L << 22)

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Each macro line is one round: ACC independent fmas acc[i] = acc[i] * m + c. */
#define ROUND16(T, FMA)                                                                          \
    a0 = FMA(a0, m, c); a1 = FMA(a1, m, c); a2 = FMA(a2, m, c); a3 = FMA(a3, m, c);              \
    a4 = FMA(a4, m, c); a5 = FMA(a5, m, c); a6 = FMA(a6, m, c); a7 = FMA(a7, m, c);              \
    a8 = FMA(a8, m, c); a9 = FMA(a9, m, c); a10 = FMA(a10, m, c); a11 = FMA(a11, m, c);          \
    a12 = FMA(a12, m, c); a13 = FMA(a13, m, c); a14 = FMA(a14, m, c); a15 = FMA(a15, m, c);
#define ROUND12(T, FMA)                                                                          \
    a0 = FMA(a0, m, c); a1 = FMA(a1, m, c); a2 = FMA(a2, m, c); a3 = FMA(a3, m, c);              \
    a4 = FMA(a4, m, c); a5 = FMA(a5, m, c); a6 = FMA(a6, m, c); a7 = FMA(a7, m, c);              \
    a8 = FMA(a8, m, c); a9 = FMA(a9, m, c); a10 = FMA(a10, m, c); a11 = FMA(a11, m, c);

#define PROBE(NAME, ACC, T, SET1, FMA, ADD, STORE, LANES)                                             \
    static double NAME(float seed) {                                                             \
        T m = SET1(0.9999f), c = SET1(0.0001f);                                                  \
        T a0 = SET1(seed), a1 = SET1(seed + 1e-3f), a2 = SET1(seed + 2e-3f), a3 = SET1(seed + 3e-3f); \
        T a4 = SET1(seed + 4e-3f), a5 = SET1(seed + 5e-3f), a6 = SET1(seed + 6e-3f);            \
        T a7 = SET1(seed + 7e-3f), a8 = SET1(seed + 8e-3f), a9 = SET1(seed + 9e-3f);            \
        T a10 = SET1(seed + 10e-3f), a11 = SET1(seed + 11e-3f), a12 = SET1(seed + 12e-3f);      \
        T a13 = SET1(seed + 13e-3f), a14 = SET1(seed + 14e-3f), a15 = SET1(seed + 15e-3f);      \
        double t0 = now();                                                                       \
        for (long r = 0; r < ROUNDS; r++) {                                                      \
            ROUND##ACC(T, FMA)                                                                   \
        }                                                                                        \
        double t = now() - t0;                                                                   \
        T s = ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(a6, a7)));                  \
        s = ADD(s, ADD(ADD(ADD(a8, a9), ADD(a10, a11)), ADD(ADD(a12, a13), ADD(a14, a15))));      \
        float out[LANES];                                                                        \
        STORE(out, s);                                                                           \
        if (out[0] == 12345.f) puts("");  /* keeps the chains live */                            \
        return 2.0 * ACC * LANES * ROUNDS / t / 1e9;                                             \
    }

#ifdef __AVX512F__
PROBE(probe512, 16, __m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, _mm512_storeu_ps, 16)
#endif
#if defined(__AVX2__) || defined(__FMA__)
PROBE(probe256, 12, __m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, _mm256_storeu_ps, 8)
#endif

static void report(const char *bits, double (*probe)(float), int runs) {
    double best = 0;
    for (int i = 0; i < runs; i++) {
        double g = probe(1.0f + i * 1e-4f);
        if (g > best) best = g;
    }
    printf("bits=%s gflops=%.2f best of %d runs\n", bits, best, runs);
}

int main(int argc, char **argv) {
    int runs = argc > 1 ? atoi(argv[1]) : 15;
#ifdef __AVX512F__
    report("512", probe512, runs);
#endif
#if defined(__AVX2__) || defined(__FMA__)
    report("256", probe256, runs);
#endif
    return 0;
}
