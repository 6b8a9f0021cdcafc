# client/: libmixclient and the mixclient program.  Included by the top Makefile.
#
# libmixclient.a holds every client/*.c except the program's own files
# (main.c and cli.c), and net/sock.c; it is linked after libmix.a's users with
# libev and LMDB.
# libmixclient.so.N (below) holds libmix as well and is what mixclient.pc
# links by default; `pkg-config --static` gives the archives.

CLIENT_PROG_SRCS := client/main.c client/cli.c
# truth.c is only in the test program mixclient-truth (below).
CLIENT_TRUTH_SRC := client/truth.c
CLIENT_LIB_SRCS  := $(filter-out $(CLIENT_PROG_SRCS) $(CLIENT_TRUTH_SRC),$(sort $(wildcard client/*.c)))
# net/sock.c: the socket calls cconn.c shares with the daemons' net/conn.c.
CLIENT_NET_SRCS  := net/sock.c
CLIENT_LIB_OBJS  := $(CLIENT_LIB_SRCS:%.c=$(BUILD)/obj/%.o) $(CLIENT_NET_SRCS:%.c=$(BUILD)/obj/%.o)
CLIENT_PROG_OBJS := $(filter $(CLIENT_PROG_SRCS:%.c=$(BUILD)/obj/%.o),$(wildcard $(CLIENT_PROG_SRCS)))
LIBMIXCLIENT     := $(BUILD)/libmixclient.a
CLIENT_LIBS      := -lev -llmdb

$(LIBMIXCLIENT): $(CLIENT_LIB_OBJS)
	$(call say,AR,$@)rm -f $@ && ar rcs $@ $^

$(BUILD)/mixclient: $(CLIENT_PROG_SRCS:%.c=$(BUILD)/obj/%.o) $(LIBMIXCLIENT) $(LIBMIX)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $^ $(CLIENT_LIBS) $(LIBS)

PROGRAMS += $(LIBMIXCLIENT) $(BUILD)/mixclient $(BUILD)/mixclient.pc

# The shared library: the client's objects and libmix's, compiled position-
# independent into $(BUILD)/pic/, exporting only mixclient_* (libmixclient.map)
# so that libmix's symbols never clash with an application's.  The soname
# changes when the API or ABI of mixclient.h changes incompatibly.
MIXCLIENT_SOVERSION := 0
LIBMIXCLIENT_SONAME := libmixclient.so.$(MIXCLIENT_SOVERSION)
LIBMIXCLIENT_SO     := $(BUILD)/$(LIBMIXCLIENT_SONAME)
CLIENT_PIC_OBJS     := $(CLIENT_LIB_SRCS:%.c=$(BUILD)/pic/%.o) $(CLIENT_NET_SRCS:%.c=$(BUILD)/pic/%.o) \
                       $(LIB_SRCS:%.c=$(BUILD)/pic/%.o)

$(BUILD)/pic/%.o: %.c | $(PROTO_H)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -fPIC -MMD -MP -c $< -o $@

$(BUILD)/pic/proto/%.pb-c.o: proto/%.pb-c.c
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(CPPFLAGS_ALL) -std=c11 $(CFLAGS) -fPIC $(filter -fsanitize=% -fno-omit-frame-pointer -fno-sanitize-recover=all,$(CFLAGS_ALL)) -MMD -MP -c $< -o $@

$(LIBMIXCLIENT_SO): $(CLIENT_PIC_OBJS) client/libmixclient.map
	$(call say,LD,$@)$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -shared -Wl,-soname,$(LIBMIXCLIENT_SONAME) \
	    -Wl,--version-script=client/libmixclient.map -o $@ $(CLIENT_PIC_OBJS) $(CLIENT_LIBS) $(LIBS)

$(BUILD)/libmixclient.so: $(LIBMIXCLIENT_SO)
	$(Q)ln -sf $(LIBMIXCLIENT_SONAME) $@

PROGRAMS += $(LIBMIXCLIENT_SO) $(BUILD)/libmixclient.so

# The test program mixclient-truth: mixclient built with -DMIXCLIENT_TRUTH
# and truth.c, into $(BUILD)/truth/, so that MIXCLIENT_TRUTH_FILE makes it
# write mixscope's ground-truth file (client/truth.h).  A test program only:
# no install target names it, and neither mixclient nor libmixclient holds
# that code (tests/integration/client_truth.sh checks).
CLIENT_TRUTH_OBJS := $(CLIENT_LIB_SRCS:%.c=$(BUILD)/truth/%.o) $(CLIENT_PROG_SRCS:%.c=$(BUILD)/truth/%.o) \
                     $(CLIENT_TRUTH_SRC:%.c=$(BUILD)/truth/%.o) $(CLIENT_NET_SRCS:%.c=$(BUILD)/obj/%.o)
$(BUILD)/truth/client/%.o: client/%.c | $(PROTO_H)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(call layer_inc,$<) -DMIXCLIENT_TRUTH $(CFLAGS_ALL) -MMD -MP -c $< -o $@
$(BUILD)/test/mixclient-truth: $(CLIENT_TRUTH_OBJS) $(LIBMIX)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $^ $(CLIENT_LIBS) $(LIBS)
TEST_PROGRAMS += $(BUILD)/test/mixclient-truth

# client_status_api: the public API's status calls on a live network
# (tests/integration/client_status_api.sh).
$(BUILD)/tests/tools/client_status_api: $(BUILD)/obj/tests/tools/client_status_api.o $(LIBMIXCLIENT) $(LIBMIX)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $^ $(CLIENT_LIBS) $(LIBS)
TEST_PROGRAMS += $(BUILD)/tests/tools/client_status_api

# Unit tests of the client core link the client library as well.
$(BUILD)/tests/test_client_core: $(LIBMIXCLIENT)
TEST_LIBS_client_core := $(LIBMIXCLIENT) $(LIBMIX) $(CLIENT_LIBS)
$(BUILD)/tests/test_client_records: $(LIBMIXCLIENT)
TEST_LIBS_client_records := $(LIBMIXCLIENT) $(LIBMIX) $(CLIENT_LIBS)

# Benchmarks.
$(BUILD)/bench/client_packets: $(BUILD)/obj/client/bench/client_packets.o $(LIBMIXCLIENT) $(LIBMIX)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $^ $(CLIENT_LIBS) $(LIBS)
BENCH_PROGRAMS += $(BUILD)/bench/client_packets

# pkg-config file and installation (PREFIX honoured; the installed .pc is
# written at install time so it always names the PREFIX installed to).
MIXCLIENT_VERSION := $(shell sed -n 's/^\#define MIX_VERSION "\(.*\)"/\1/p' lib/common.h)
$(BUILD)/mixclient.pc: client/mixclient.pc.in
	@mkdir -p $(dir $@)
	$(call say,GEN,$@)sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(MIXCLIENT_VERSION)|g' $< > $@

.PHONY: install-client
install-client: $(LIBMIXCLIENT) $(LIBMIXCLIENT_SO) $(BUILD)/mixclient
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/mixclient \
	    $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(BUILD)/mixclient $(DESTDIR)$(PREFIX)/bin/mixclient
	install -m 0644 $(LIBMIXCLIENT) $(DESTDIR)$(PREFIX)/lib/libmixclient.a
	install -m 0755 $(LIBMIXCLIENT_SO) $(DESTDIR)$(PREFIX)/lib/$(LIBMIXCLIENT_SONAME)
	ln -sf $(LIBMIXCLIENT_SONAME) $(DESTDIR)$(PREFIX)/lib/libmixclient.so
	install -m 0644 $(LIBMIX) $(DESTDIR)$(PREFIX)/lib/libmix.a
	install -m 0644 client/mixclient.h $(DESTDIR)$(PREFIX)/include/mixclient/mixclient.h
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(MIXCLIENT_VERSION)|g' client/mixclient.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/mixclient.pc
	install -m 0644 docs/man/mixclient.1 $(DESTDIR)$(PREFIX)/share/man/man1/mixclient.1
INSTALL_TARGETS += install-client

$(BUILD)/bench/client_e2e: $(BUILD)/obj/client/bench/client_e2e.o
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $^
BENCH_PROGRAMS += $(BUILD)/bench/client_e2e
