# node/: mixnode, the node daemon.  Included by the top Makefile (after
# net/module.mk: NET_OBJS).

# build/mixnode: the node daemon.  MIXNODE_CORE_OBJS is everything but main(),
# shared with the fuzz target, the unit tests and the test tools.
MIXNODE_CORE_SRCS := node/inbox.c node/node_conf.c node/node_metrics.c node/node_keys.c node/replay_journal.c \
                     node/unwrap.c node/deliver.c node/mix.c node/send.c node/cover.c node/receive.c node/fetch.c node/node_dir.c \
                     node/node_harness.c node/node_status.c
MIXNODE_CORE_OBJS := $(MIXNODE_CORE_SRCS:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/net/conn.o $(BUILD)/obj/net/sock.o
MIXNODE_LIBS      := -lev -llmdb -lmicrohttpd
PROGRAMS += $(BUILD)/mixnode
$(BUILD)/mixnode: $(BUILD)/obj/node/mixnode.o $(MIXNODE_CORE_OBJS) $(BUILD)/obj/net/dir_exchange.o \
		$(LIBMIX)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $^ $(MIXNODE_LIBS) $(LIBS)

# The test program mixnode-slowstore: mixnode with inbox.c built with
# -DMIXNODE_TEST_HOOKS into $(BUILD)/slowstore/, so that
# MIXNODE_TEST_STORE_DELAY_US makes every store commit sleep (a slow disk,
# tests/integration/gateway_backpressure.sh).  A test program only: no
# install target names it, and build/mixnode has no such code (the test checks).
MIXNODE_SLOWSTORE_OBJS := $(filter-out $(BUILD)/obj/node/inbox.o,$(MIXNODE_CORE_OBJS)) \
                          $(BUILD)/slowstore/node/inbox.o
$(BUILD)/slowstore/node/%.o: node/%.c | $(PROTO_H)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(call layer_inc,$<) -DMIXNODE_TEST_HOOKS $(CFLAGS_ALL) -MMD -MP -c $< -o $@
$(BUILD)/test/mixnode-slowstore: $(BUILD)/obj/node/mixnode.o $(MIXNODE_SLOWSTORE_OBJS) \
		$(BUILD)/obj/net/dir_exchange.o $(LIBMIX)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $^ $(MIXNODE_LIBS) $(LIBS)
TEST_PROGRAMS += $(BUILD)/test/mixnode-slowstore

# Unit tests over the node's pieces ($^ puts the objects after libmix.a).
$(BUILD)/tests/test_node_inbox: $(BUILD)/obj/node/inbox.o
TEST_LIBS_node_inbox := $(LIBMIX) -llmdb
$(BUILD)/tests/test_node_parts: $(MIXNODE_CORE_OBJS)
TEST_LIBS_node_parts := $(LIBMIX) $(MIXNODE_LIBS)

# Fuzz target over the node's frame handler (tests/fuzz/fuzz_node_link.c).
$(BUILD)/tests/replay_node_link: $(MIXNODE_CORE_OBJS)
FUZZ_LIBS_node_link = $(if $(filter $(BUILD)/fuzz/%,$@),,$(LIBMIX)) $(MIXNODE_LIBS)
FUZZ_SRCS_node_link := $(MIXNODE_CORE_SRCS) net/conn.c net/sock.c

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
