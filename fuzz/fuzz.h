/*
 * fuzz.h: what the libFuzzer harnesses share (./configure --enable-fuzzing,
 * make fuzz; fuzz/run runs them).  Each harness feeds outside bytes to one
 * parser of src/ through its public interface and frees what it gets.
 */
#ifndef NOTIMOCK_FUZZ_H
#define NOTIMOCK_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	LLVMFuzzerInitialize(int *, char ***);

/* The input as a C string (a NUL inside ends it early, as it would). */
static inline char *
fuzz_str(const uint8_t *data, size_t len)
{
	char	*s = malloc(len + 1);

	if (s == NULL)
		abort();
	memcpy(s, data, len);
	s[len] = '\0';
	return (s);
}

/* Quiet logs: warnings about bad input are expected by the thousand. */
#define FUZZ_QUIET()							\
int									\
LLVMFuzzerInitialize(int *argc, char ***argv)				\
{									\
	(void)argc;							\
	(void)argv;							\
	log_init(-2, 0);						\
	return (0);							\
}

#endif
