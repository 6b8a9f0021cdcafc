/*
 * mixclient: the client daemon and its command line (see mixclient(1)).
 *
 *   mixclient [-c CONFIG] init | daemon | address | send | recv | reply | status
 */
#include <ev.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cconf.h"
#include "cli.h"
#include "common.h"
#include "local.h"
#include "log.h"
#include "mixclient.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mixclient [-c CONFIG] [-n] COMMAND [ARGS]\n"
            "\n"
            "commands:\n"
            "  init                     create keys, register an inbox, print the address\n"
            "  daemon                   run the client (cover traffic, local socket)\n"
            "  address                  print this client's address\n"
            "  send ADDRESS (-m TEXT | -f FILE) [--reply-surbs 1] [--wait SECONDS]\n"
            "  recv [--follow] [-o DIR] [--max N]\n"
            "  reply ID (-m TEXT | -f FILE)\n"
            "  status [ID]\n"
            "\n"
            "options:\n"
            "  -c CONFIG   config file (default $MIXCLIENT_CONFIG or ./mixclient.conf)\n"
            "  -n          check the config file and exit\n"
            "  --help, --version\n");
}

static struct mixclient *g_mc;

/* The library's log lines, to stderr or syslog as the config says (levels as mix_log's). */
static void daemon_log(void *ctx, enum mixclient_log_level level, const char *line)
{
    (void)ctx;
    mix_log_write((enum mix_log_level)(level - 1), line);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)w;
    (void)revents;
    log_info("client: shutting down");
    ev_break(loop, EVBREAK_ALL);
}

static int run_daemon(const char *config)
{
    char err[512];
    struct cconf conf;
    if (cconf_load(config, &conf, err, sizeof(err)) < 0) {
        fprintf(stderr, "mixclient: %s\n", err);
        return 1;
    }
    mix_log_init("mixclient", conf.log_level, conf.use_syslog);
    struct mixclient_options opts = {daemon_log, NULL,
                                     (enum mixclient_log_level)(conf.log_level + 1)};
    g_mc = mixclient_new_opts(config, NULL, &opts, err, sizeof(err));
    if (g_mc == NULL) {
        mix_log_write(MIX_LOG_ERR, err);
        return 1;
    }
    struct local_srv *srv = local_srv_new(g_mc, conf.socket, err, sizeof(err));
    if (srv == NULL) {
        log_err("%s", err);
        mixclient_free(g_mc);
        return 1;
    }
    struct ev_loop *loop = mixclient_loop(g_mc);
    ev_signal sterm, sint;
    ev_signal_init(&sterm, on_signal, SIGTERM);
    ev_signal_init(&sint, on_signal, SIGINT);
    ev_signal_start(loop, &sterm);
    ev_signal_start(loop, &sint);
    signal(SIGPIPE, SIG_IGN);
    log_info("client: daemon running, socket %s", conf.socket);
    mixclient_run(g_mc);
    ev_signal_stop(loop, &sterm);
    ev_signal_stop(loop, &sint);
    local_srv_free(srv);
    mixclient_free(g_mc);
    return 0;
}

static int run_init(const char *config, int argc, char **argv)
{
    char err[512], addr[MIXCLIENT_ADDRESS_SIZE];
    unsigned timeout = 30;
    if (argc == 3 && strcmp(argv[1], "--timeout") == 0)
        timeout = (unsigned)strtoul(argv[2], NULL, 10);
    else if (argc != 1) {
        fprintf(stderr, "usage: mixclient init [--timeout SECONDS]\n");
        return 2;
    }
    mix_log_init("mixclient", MIX_LOG_WARN, false);
    int rc = mixclient_init(config, timeout, addr, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "mixclient: init failed: %s\n", err);
        return 1;
    }
    printf("%s\n", addr);
    return 0;
}

static int run_address(const char *config)
{
    char err[512], addr[MIXCLIENT_ADDRESS_SIZE];
    mix_log_init("mixclient", MIX_LOG_WARN, false);
    struct mixclient *mc = mixclient_new(config, NULL, err, sizeof(err));
    if (mc == NULL) {
        fprintf(stderr, "mixclient: %s\n", err);
        return 1;
    }
    mixclient_address(mc, addr);
    printf("%s\n", addr);
    mixclient_free(mc);
    return 0;
}

int main(int argc, char **argv)
{
    const char *config = getenv("MIXCLIENT_CONFIG");
    bool check = false;
    int i = 1;
    if (config == NULL)
        config = "mixclient.conf";
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("mixclient %s\n", MIX_VERSION);
            return 0;
        } else if (strcmp(argv[i], "-n") == 0) {
            check = true;
        } else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            config = argv[++i];
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "mixclient: libsodium failed to initialise\n");
        return 1;
    }
    if (check) {
        char err[512];
        if (mixclient_check_config(config, err, sizeof(err)) != 0) {
            fprintf(stderr, "mixclient: %s\n", err);
            return 1;
        }
        printf("%s: ok\n", config);
        return 0;
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[i];
    int sub_argc = argc - i;
    char **sub_argv = argv + i;
    if (strcmp(cmd, "daemon") == 0)
        return run_daemon(config);
    if (strcmp(cmd, "init") == 0)
        return run_init(config, sub_argc, sub_argv);
    if (strcmp(cmd, "address") == 0)
        return run_address(config);
    /* The rest talk to the daemon: only the socket path is needed. */
    char err[512];
    struct cconf conf;
    if (cconf_load(config, &conf, err, sizeof(err)) < 0) {
        fprintf(stderr, "mixclient: %s\n", err);
        return 1;
    }
    if (strcmp(cmd, "send") == 0)
        return cli_send(conf.socket, sub_argc, sub_argv);
    if (strcmp(cmd, "recv") == 0)
        return cli_recv(conf.socket, sub_argc, sub_argv);
    if (strcmp(cmd, "reply") == 0)
        return cli_reply(conf.socket, sub_argc, sub_argv);
    if (strcmp(cmd, "status") == 0)
        return cli_status(conf.socket, sub_argc, sub_argv);
    fprintf(stderr, "mixclient: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
