/* Which vector instruction sets this CPU and its operating system support, asked once.
 *
 * An instruction set is usable when the CPU reports it (CPUID) and the operating system
 * saves its registers on a context switch (XGETBV: the XCR0 bits of the AVX state, and of
 * the AVX-512 opmask and upper registers). Compiled without any instruction-set flag, for the
 * baseline of the platform; on CPUs other than x86-64 nothing is reported.
 */
#ifndef CNN_EXT_CPU_FEATURES_H
#define CNN_EXT_CPU_FEATURES_H

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#define CNN_EXT_X86 1
#if defined(_MSC_VER)
#include <intrin.h>
#include <immintrin.h>
static void cnn_cpuid(int leaf, int subleaf, unsigned int regs[4]) {
    int info[4];
    __cpuidex(info, leaf, subleaf);
    for (int i = 0; i < 4; i++) regs[i] = (unsigned int)info[i];
}
static unsigned long long cnn_xcr0(void) { return _xgetbv(0); }
#else
#include <cpuid.h>
static void cnn_cpuid(int leaf, int subleaf, unsigned int regs[4]) {
    __cpuid_count(leaf, subleaf, regs[0], regs[1], regs[2], regs[3]);
}
static unsigned long long cnn_xcr0(void) {
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}
#endif
#else
#define CNN_EXT_X86 0
#endif

/* Bit 0: AVX2 with FMA; bit 1: AVX-512F (with AVX2 and FMA). */
static int cnn_cpu_features(void) {
#if CNN_EXT_X86
    unsigned int basic[4], extended[4];
    cnn_cpuid(0, 0, basic);
    if (basic[0] < 7) return 0;
    cnn_cpuid(1, 0, basic);
    int fma = (basic[2] >> 12) & 1, osxsave = (basic[2] >> 27) & 1, avx = (basic[2] >> 28) & 1;
    if (!(fma && osxsave && avx)) return 0;
    unsigned long long xcr0 = cnn_xcr0();
    if ((xcr0 & 0x6) != 0x6) return 0;                       /* SSE and AVX state */
    cnn_cpuid(7, 0, extended);
    int avx2 = (extended[1] >> 5) & 1, avx512f = (extended[1] >> 16) & 1;
    int features = avx2 ? 1 : 0;
    if (avx2 && avx512f && (xcr0 & 0xE0) == 0xE0) features |= 2;  /* opmask and ZMM state */
    return features;
#else
    return 0;
#endif
}

#endif
