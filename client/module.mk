# client/: libmixclient and the mixclient program.  Included by the top Makefile.
#
# libmixclient.a holds every client/*.c except the program's own files
# (main.c and cli.c); it is linked after libmix.a's users with libev and LMDB.

CLIENT_PROG_SRCS := client/main.c client/cli.c
CLIENT_LIB_SRCS  := $(filter-out $(CLIENT_PROG_SRCS),$(sort $(wildcard client/*.c)))
CLIENT_LIB_OBJS  := $(CLIENT_LIB_SRCS:%.c=$(BUILD)/obj/%.o)
CLIENT_PROG_OBJS := $(filter $(CLIENT_PROG_SRCS:%.c=$(BUILD)/obj/%.o),$(wildcard $(CLIENT_PROG_SRCS)))
LIBMIXCLIENT     := $(BUILD)/libmixclient.a
CLIENT_LIBS      := -lev -llmdb

$(LIBMIXCLIENT): $(CLIENT_LIB_OBJS)
	$(call say,AR,$@)rm -f $@ && ar rcs $@ $^

$(BUILD)/mixclient: $(CLIENT_PROG_SRCS:%.c=$(BUILD)/obj/%.o) $(LIBMIXCLIENT) $(LIBMIX)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $^ $(CLIENT_LIBS) $(LIBS)

PROGRAMS += $(LIBMIXCLIENT) $(BUILD)/mixclient $(BUILD)/mixclient.pc

# Unit tests of the client core link the client library as well.
$(BUILD)/tests/test_client_core: $(LIBMIXCLIENT)
TEST_LIBS_client_core := $(LIBMIXCLIENT) $(LIBMIX) $(CLIENT_LIBS)

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
install-client: $(LIBMIXCLIENT) $(BUILD)/mixclient
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/mixclient \
	    $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(BUILD)/mixclient $(DESTDIR)$(PREFIX)/bin/mixclient
	install -m 0644 $(LIBMIXCLIENT) $(DESTDIR)$(PREFIX)/lib/libmixclient.a
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
