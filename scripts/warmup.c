/* A program with a slow cold start, for the quick-startup demo and bench:
 * it "warms up" (sieves primes for ~1-2 s of CPU and touches WARM_MB MiB of
 * memory), writes /tmp/ready with its warm-up time, then keeps its state in
 * memory and ticks a counter into /tmp/ticks. A restored copy skips the
 * warm-up: it is already warm. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? strtoul(argv[1], 0, 10) : 60000000;
    size_t mb = argc > 2 ? strtoul(argv[2], 0, 10) : 32;
    double t0 = now();
    char *sieve = calloc(n, 1);
    char *warm = malloc(mb << 20);
    if (!sieve || !warm) return 1;
    size_t primes = 0;
    for (size_t i = 2; i < n; i++) {
        if (sieve[i]) continue;
        primes++;
        for (size_t j = i * 2; j < n; j += i) sieve[j] = 1;
    }
    for (size_t i = 0; i < (mb << 20); i += 4096) warm[i] = (char)i | 1;
    FILE *f = fopen("/tmp/ready", "w");
    if (!f) return 2;
    fprintf(f, "warm after %.0f ms: %zu primes below %zu\n", (now() - t0) * 1000, primes, n);
    fclose(f);
    for (unsigned long i = 1;; i++) {
        f = fopen("/tmp/ticks.tmp", "w");
        if (!f) return 3;
        fprintf(f, "%lu %zu\n", i, primes);
        fclose(f);
        rename("/tmp/ticks.tmp", "/tmp/ticks");
        usleep(100000);
    }
}
