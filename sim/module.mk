# sim/: mixsim, the anonymity simulator.  Its objects (all of sim/*.c but
# main.c) form $(BUILD)/libmixsim.a, which mixsim, the sim unit tests and
# bench/sim link; they never go into libmix.a.

SIM_LIB_SRCS := $(filter-out sim/main.c,$(sort $(wildcard sim/*.c)))
SIM_LIB_OBJS := $(SIM_LIB_SRCS:%.c=$(BUILD)/obj/%.o)
LIBMIXSIM    := $(BUILD)/libmixsim.a

$(LIBMIXSIM): $(SIM_LIB_OBJS)
	$(call say,AR,$@)rm -f $@ && ar rcs $@ $^

$(BUILD)/mixsim: $(BUILD)/obj/sim/main.o $(LIBMIXSIM) $(LIBMIX)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $^ $(LIBS)

PROGRAMS += $(BUILD)/mixsim

# Unit tests of the simulator link its library (listed twice so the archive
# order does not matter).
SIM_TESTS := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_sim_*.c))
$(foreach t,$(SIM_TESTS),$(eval TEST_LIBS_$(patsubst test_%,%,$(t)) := $(LIBMIXSIM) $(LIBMIX)))
$(SIM_TESTS:%=$(BUILD)/tests/%): $(LIBMIXSIM)

# bench/sim.c likewise.
BENCH_LIBS_sim := $(LIBMIXSIM) $(LIBMIX)
$(BUILD)/bench/sim: $(LIBMIXSIM)
BENCH_LIBS_sim_attacks := $(LIBMIXSIM) $(LIBMIX)
$(BUILD)/bench/sim_attacks: $(LIBMIXSIM)

# `make plots`: sweeps and gnuplot charts into $(BUILD)/plots/.
plots: $(BUILD)/mixsim
	sh sim/plots.sh $(BUILD)
	sh sim/trilemma.sh $(BUILD)

# tests/fuzz/fuzz_sim_params.c fuzzes sim/params.c: the corpus replay links
# the sim library, `make fuzz` compiles the source in.
FUZZ_LIBS_sim_params := $(LIBMIXSIM) $(LIBMIX)
FUZZ_SRCS_sim_params := sim/params.c
$(BUILD)/tests/replay_sim_params: $(LIBMIXSIM)
FUZZ_LIBS_sim_trace := $(LIBMIXSIM) $(LIBMIX)
FUZZ_SRCS_sim_trace := sim/trace.c
$(BUILD)/tests/replay_sim_trace: $(LIBMIXSIM)

.PHONY: install-sim
install-sim: $(BUILD)/mixsim
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(BUILD)/mixsim $(DESTDIR)$(PREFIX)/bin/mixsim
	install -m 0644 docs/man/mixsim.1 $(DESTDIR)$(PREFIX)/share/man/man1/mixsim.1
INSTALL_TARGETS += install-sim
