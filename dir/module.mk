# dir/: mixdir, the directory authority daemon.  Included by the top Makefile
# (after net/module.mk: NET_OBJS).
MIXDIR_SRCS := dir/main.c dir/keygen.c dir/peers.c dir/publish.c dir/descriptors.c \
               dir/vote.c dir/schedule.c dir/dir_conf.c dir/dir_store.c dir/dir_fetch.c \
               dir/dir_metrics.c
MIXDIR_OBJS := $(MIXDIR_SRCS:%.c=$(BUILD)/obj/%.o)
PROGRAMS += $(BUILD)/mixdir
$(BUILD)/mixdir: $(MIXDIR_OBJS) $(NET_OBJS) $(LIBMIX)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $^ $(NET_LIBS) -lmicrohttpd $(LIBS)

# tests/tools/dirtool: generates node keys, signs and uploads descriptors,
# fetches and verifies documents (used by tests/integration/mixdir_*.sh).
TEST_PROGRAMS += $(BUILD)/tests/dirtool
$(BUILD)/tests/dirtool: $(BUILD)/obj/tests/tools/dirtool.o $(NET_OBJS) $(LIBMIX)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $^ $(NET_LIBS) $(LIBS)

# Unit test of mixdir's sets, store and config (dir objects, not in libmix).
$(BUILD)/tests/test_mixdir_store: $(BUILD)/obj/dir/dir_store.o $(BUILD)/obj/dir/dir_conf.o
TEST_LIBS_mixdir_store := $(LIBMIX)

# Fuzz target over mixdir's config parser (tests/fuzz/fuzz_mixdir_conf.c).
$(BUILD)/tests/replay_mixdir_conf: $(BUILD)/obj/dir/dir_conf.o
FUZZ_LIBS_mixdir_conf = $(if $(filter $(BUILD)/fuzz/%,$@),,$(LIBMIX))
FUZZ_SRCS_mixdir_conf := dir/dir_conf.c
