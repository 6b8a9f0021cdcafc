/*
 * mixclient: the client daemon and its command line (see mixclient(1)).
 *
 *   mixclient [-c CONFIG] init | daemon | address | send | recv | reply | status
 *
 * Options are parsed with getopt_long before and after the command (cli.h);
 * init, daemon and address use the library directly, the others talk to
 * the daemon over its socket (cli.c).
 */
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cconf.h"
#include "cli.h"
#include "common.h"
#include "local.h"
#include "log.h"
#include "mixclient.h"

static struct mixclient *g_mc;

/* A configuration's errors, one a line (conf_report), each prefixed. */
static void print_config_errors(const char *err)
{
    for (const char *l = err; *l;) {
        size_t n = strcspn(l, "\n");
        fprintf(stderr, "mixclient: %.*s\n", (int)n, l);
        l += n + (l[n] == '\n');
    }
}

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

/* A command with no options of its own: only the common ones, no arguments. */
static int plain_command(const char *cmd, int argc, char **argv, const char **config)
{
    static const struct option opts[] = { CLI_COMMON_LONG, { NULL, 0, NULL, 0 } };
    int ch, r;
    optind = 0;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, CLI_COMMON_SHORT, opts, NULL)) != -1)
        if ((r = cli_common_opt(ch, cmd, argv, config)) >= 0)
            return r;
    if (optind != argc) {
        fprintf(stderr, "mixclient %s: unexpected argument '%s'\ntry 'mixclient %s --help'\n", cmd,
                argv[optind], cmd);
        return 2;
    }
    return -1;
}

/*
 * One daemon per data directory: an exclusive flock on DATA_DIR/mixclient.lock
 * (holding the pid), kept for the life of the process; the kernel drops it
 * when the process ends, even by kill -9.  Returns the fd; -2 if the data
 * directory does not exist (starting then fails with a clearer error); -1 if
 * another daemon holds it or the file cannot be used (said on stderr).
 */
static int lock_data_dir(const struct cconf *conf)
{
    char path[CCONF_PATH_MAX], pid[32];
    cconf_path(conf, "mixclient.lock", path);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == ENOENT)
            return -2;
        fprintf(stderr, "mixclient: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        fprintf(stderr, "mixclient: another mixclient daemon (pid %s) is using %s\n",
                pid[0] ? pid : "?", conf->data_dir);
        close(fd);
        return -1;
    }
    snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, strlen(pid), 0) < 0)
        fprintf(stderr, "mixclient: %s: %s (the lock holds all the same)\n", path, strerror(errno));
    return fd;
}

static int run_daemon(const char *config, int argc, char **argv)
{
    char err[4096];
    struct cconf conf;
    int r = plain_command("daemon", argc, argv, &config);
    if (r >= 0)
        return r;
    if (cconf_load(config, &conf, err, sizeof(err)) < 0) {
        print_config_errors(err);
        return 1;
    }
    int lock_fd = lock_data_dir(&conf);
    if (lock_fd == -1)
        return 1;
    mix_log_init("mixclient", conf.log_level, conf.use_syslog);
    struct mixclient_options opts = { daemon_log, NULL,
                                      (enum mixclient_log_level)(conf.log_level + 1) };
    g_mc = mixclient_new_opts(config, NULL, &opts, err, sizeof(err));
    /* lock_fd stays open (the lock held) until the process exits. */
    (void)lock_fd;
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
    static const struct option opts[] = { { "timeout", required_argument, NULL, 't' },
                                          CLI_COMMON_LONG,
                                          { NULL, 0, NULL, 0 } };
    char err[512], addr[MIXCLIENT_ADDRESS_SIZE];
    unsigned long timeout = 30;
    int ch, r;
    optind = 0;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, CLI_COMMON_SHORT, opts, NULL)) != -1) {
        if (ch == 't') {
            if (!cli_parse_num("init", "--timeout", optarg, 1, 3600, &timeout))
                return 2;
        } else if ((r = cli_common_opt(ch, "init", argv, &config)) >= 0) {
            return r;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "mixclient init: unexpected argument '%s'\ntry 'mixclient init --help'\n",
                argv[optind]);
        return 2;
    }
    mix_log_init("mixclient", MIX_LOG_WARN, false);
    int rc = mixclient_init(config, (unsigned)timeout, addr, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "mixclient: init failed: %s\n", err);
        return 1;
    }
    printf("%s\n", addr);
    return 0;
}

static int run_address(const char *config, int argc, char **argv)
{
    char err[512], addr[MIXCLIENT_ADDRESS_SIZE];
    int r = plain_command("address", argc, argv, &config);
    if (r >= 0)
        return r;
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
    static const struct option opts[] = { { "check", no_argument, NULL, 'n' },
                                          CLI_COMMON_LONG,
                                          { NULL, 0, NULL, 0 } };
    static const struct {
        const char *name;
        int (*fn)(const char *config, int argc, char **argv);
    } cmds[] = {
        { "init", run_init },     { "daemon", run_daemon }, { "address", run_address },
        { "send", cli_send },     { "recv", cli_recv },     { "reply", cli_reply },
        { "status", cli_status },
    };
    const char *config = getenv("MIXCLIENT_CONFIG");
    bool check = false;
    int ch, r;
    if (config == NULL)
        config = "mixclient.conf";
    /* "+": stop at the command; its own parser takes the rest (common options too). */
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "+" CLI_COMMON_SHORT "n", opts, NULL)) != -1) {
        if (ch == 'n')
            check = true;
        else if ((r = cli_common_opt(ch, NULL, argv, &config)) >= 0)
            return r;
    }
    if (check) {
        char err[4096];
        if (optind != argc) {
            fprintf(stderr, "mixclient: -n takes no command\n");
            return 2;
        }
        if (mixclient_check_config(config, err, sizeof(err)) != 0) {
            print_config_errors(err);
            return 1;
        }
        printf("%s: ok\n", config);
        return 0;
    }
    if (optind >= argc) {
        fprintf(stderr, "mixclient: no command given\n");
        cli_usage(stderr, NULL);
        return 2;
    }
    const char *cmd = argv[optind];
    for (size_t i = 0; i < MIX_ARRAY_LEN(cmds); i++)
        if (strcmp(cmd, cmds[i].name) == 0)
            return cmds[i].fn(config, argc - optind, argv + optind);
    fprintf(stderr,
            "mixclient: unknown command '%s' (one of init, daemon, address, send, recv, "
            "reply, status)\ntry 'mixclient --help'\n",
            cmd);
    return 2;
}
