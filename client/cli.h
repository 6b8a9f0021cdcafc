/*
 * The mixclient command line (cli.c): option handling shared by every
 * command, the help text, and the commands that talk to the daemon.
 *
 * Each command takes its own argv (argv[0] = the command) and returns the
 * process exit code: 0 success, 1 failure (message on stderr), 2 usage
 * error (the message names the option or argument and what it allows).
 * Options may come before or after the command and its arguments; -c,
 * -h and -V are accepted everywhere.
 */
#ifndef MIX_CLIENT_CLI_H
#define MIX_CLIENT_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* The options every command takes (getopt_long; ':' first to tell a missing value). */
#define CLI_COMMON_SHORT ":c:hV"
#define CLI_COMMON_LONG                                                                            \
    { "config", required_argument, NULL, 'c' }, { "help", no_argument, NULL, 'h' },                \
    {                                                                                              \
        "version", no_argument, NULL, 'V'                                                          \
    }

/*
 * Handle an option every command takes, or a bad one, for command cmd
 * (NULL before the command): -1 = handled, go on; else the exit code.
 */
int cli_common_opt(int ch, const char *cmd, char **argv, const char **config);

/* A whole number in [min, max] given to option opt; false (and says why) if not. */
bool cli_parse_num(const char *cmd, const char *opt, const char *s, unsigned long min,
                   unsigned long max, unsigned long *out);

/* The help text: every command (cmd NULL) or one. */
void cli_usage(FILE *f, const char *cmd);
void cli_version(void);

/* The socket path from the config file; false (and says why) if it cannot be read. */
bool cli_socket(const char *config, char *out, size_t outlen);

int cli_send(const char *config, int argc, char **argv);
int cli_recv(const char *config, int argc, char **argv);
int cli_reply(const char *config, int argc, char **argv);
int cli_status(const char *config, int argc, char **argv);

#endif
