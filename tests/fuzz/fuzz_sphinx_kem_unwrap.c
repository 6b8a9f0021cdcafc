/*
 * Fuzz target: sphinx_unwrap() and the SURB functions for the KEM format
 * (docs/spec/sphinx.md section 15): the same modes and seeds as
 * fuzz_sphinx_unwrap.c, with every geometry in the KEM format.  Seeds:
 *   cc -DSPHINX_FUZZ_GEN -D_GNU_SOURCE -Ilib tests/fuzz/fuzz_sphinx_kem_unwrap.c \
 *      build/libmix.a -lsodium -lm -o /tmp/gen && /tmp/gen tests/fuzz/corpus/sphinx_kem_unwrap
 */
#define SPHINX_FUZZ_FORMAT SPHINX_FORMAT_KEM_X25519
#include "fuzz_sphinx_unwrap.c"
