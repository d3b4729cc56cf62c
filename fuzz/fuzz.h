/*
 * The libFuzzer entry points, included first in every fuzz-*.c (see
 * CMakeLists.txt), so that -Wmissing-prototypes is satisfied.
 */
#ifndef IMSS_FUZZ_H
#define IMSS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#endif
