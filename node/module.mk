# node/: the daemons.  Included by the top Makefile.  Sections are owned by
# different engineers; keep each self-contained and marked.

# ---------------------------------------------------------------- conn (mixdir engineer)
# node/conn.c: the libev TCP connection layer over lib/link, used by both
# daemons and by test tools.  Not part of libmix.a (it does I/O).
NODE_CONN_OBJ := $(BUILD)/obj/node/conn.o
NODE_EV_LIBS  := -lev

# The unit test of conn links the object and libev ($^ puts conn.o after
# libmix.a, so libmix is listed again for link_* symbols).
$(BUILD)/tests/test_node_conn: $(NODE_CONN_OBJ)
TEST_LIBS_node_conn := $(LIBMIX) $(NODE_EV_LIBS)

# ---------------------------------------------------------------- mixdir (mixdir engineer)
MIXDIR_SRCS := node/mixdir.c node/dir_conf.c node/dir_store.c node/dir_fetch.c node/dir_metrics.c
MIXDIR_OBJS := $(MIXDIR_SRCS:%.c=$(BUILD)/obj/%.o)
PROGRAMS += $(BUILD)/mixdir
$(BUILD)/mixdir: $(MIXDIR_OBJS) $(NODE_CONN_OBJ) $(LIBMIX)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $^ $(NODE_EV_LIBS) -lmicrohttpd $(LIBS)

# tests/tools/dirtool: generates node keys, signs and uploads descriptors,
# fetches and verifies documents (used by tests/integration/mixdir_*.sh).
TEST_PROGRAMS += $(BUILD)/tests/dirtool
$(BUILD)/tests/dirtool: $(BUILD)/obj/tests/tools/dirtool.o $(BUILD)/obj/node/dir_fetch.o \
		$(BUILD)/obj/node/dir_conf.o $(NODE_CONN_OBJ) $(LIBMIX)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $^ $(NODE_EV_LIBS) $(LIBS)

# Unit test of mixdir's sets, store and config (node objects, not in libmix).
$(BUILD)/tests/test_mixdir_store: $(BUILD)/obj/node/dir_store.o $(BUILD)/obj/node/dir_conf.o $(NODE_CONN_OBJ)
TEST_LIBS_mixdir_store := $(LIBMIX) $(NODE_EV_LIBS)

# Fuzz target over mixdir's config parser (tests/fuzz/fuzz_mixdir_conf.c).
$(BUILD)/tests/replay_mixdir_conf: $(BUILD)/obj/node/dir_conf.o $(NODE_CONN_OBJ)
FUZZ_LIBS_mixdir_conf = $(if $(filter $(BUILD)/fuzz/%,$@),,$(LIBMIX)) $(NODE_EV_LIBS)
FUZZ_SRCS_mixdir_conf := node/dir_conf.c node/conn.c

# ---------------------------------------------------------------- mixnode (mixnode engineer)
# build/mixnode: the node daemon.  MIXNODE_CORE_OBJS is everything but main(),
# shared with the fuzz target, the unit tests and the test tools.
MIXNODE_CORE_SRCS := node/inbox.c node/node_conf.c node/node_metrics.c node/node_keys.c node/node_journal.c \
                     node/node_work.c node/node_fwd.c node/node_link.c node/node_dir.c \
                     node/node_harness.c node/node_status.c
MIXNODE_CORE_OBJS := $(MIXNODE_CORE_SRCS:%.c=$(BUILD)/obj/%.o) $(NODE_CONN_OBJ)
MIXNODE_LIBS      := -lev -llmdb -lmicrohttpd
PROGRAMS += $(BUILD)/mixnode
$(BUILD)/mixnode: $(BUILD)/obj/node/mixnode.o $(MIXNODE_CORE_OBJS) $(BUILD)/obj/node/dir_fetch.o \
		$(BUILD)/obj/node/dir_conf.o $(LIBMIX)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $^ $(MIXNODE_LIBS) $(LIBS)

# Unit tests over the node's pieces ($^ puts the objects after libmix.a).
$(BUILD)/tests/test_node_inbox: $(BUILD)/obj/node/inbox.o
TEST_LIBS_node_inbox := $(LIBMIX) -llmdb
$(BUILD)/tests/test_node_parts: $(MIXNODE_CORE_OBJS)
TEST_LIBS_node_parts := $(LIBMIX) $(MIXNODE_LIBS)

# Fuzz target over the node's frame handler (tests/fuzz/fuzz_node_link.c).
$(BUILD)/tests/replay_node_link: $(MIXNODE_CORE_OBJS)
FUZZ_LIBS_node_link = $(if $(filter $(BUILD)/fuzz/%,$@),,$(LIBMIX)) $(MIXNODE_LIBS)
FUZZ_SRCS_node_link := $(MIXNODE_CORE_SRCS) node/conn.c

# tests/tools/mixtest: builds test networks (keys, signed document, configs),
# and acts as a client: sends Sphinx packets through a gateway, fetches an inbox.
TEST_PROGRAMS += $(BUILD)/tests/mixtest
$(BUILD)/tests/mixtest: $(BUILD)/obj/tests/tools/mixtest.o $(BUILD)/obj/tests/tools/mixtest_net.o $(LIBMIX)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $^ $(LIBS)

# bench/node: a real mixnode driven over Noise links on loopback.
BENCH_PROGRAMS += $(BUILD)/bench/node
$(BUILD)/bench/node: $(BUILD)/obj/bench/node/node_bench.o $(BUILD)/obj/bench/common/benchnet.o $(BUILD)/obj/tests/tools/mixtest_net.o $(LIBMIX)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $^ $(LIBS)
