/*
 * mixclient subcommands that talk to the daemon (cli.c).  Each takes its
 * own argv (argv[0] = the subcommand) and returns the process exit code:
 * 0 success, 1 failure (message on stderr), 2 usage error.
 */
#ifndef MIX_CLIENT_CLI_H
#define MIX_CLIENT_CLI_H

int cli_send(const char *sock, int argc, char **argv);
int cli_recv(const char *sock, int argc, char **argv);
int cli_reply(const char *sock, int argc, char **argv);
int cli_status(const char *sock, int argc, char **argv);

#endif
