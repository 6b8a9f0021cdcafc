/*
 * The `mixdir fetch` command, built on dir_exchange() (net/dir_exchange.h),
 * which lets an operator see the document the authorities serve and whether
 * it verifies.
 */
#ifndef MIX_DIR_FETCH_H
#define MIX_DIR_FETCH_H

/* `mixdir fetch -c FILE [-e EPOCH] [-o FILE] [-v]`; argv[0] is "fetch". */
int dir_fetch_main(int argc, char **argv);

#endif
