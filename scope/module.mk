# scope/: mixscope, the passive-observer analyser.  Everything but main.c
# forms $(BUILD)/libmixscope.a (also linked by its fuzz target and bench);
# it needs libpcap (Debian libpcap-dev) for reading captures.

SCOPE_LIB_SRCS := $(filter-out scope/main.c,$(sort $(wildcard scope/*.c)))
# mixscope drives mixsim's event engine (sim/engine.c and what it needs).
SCOPE_LIB_OBJS := $(SCOPE_LIB_SRCS:%.c=$(BUILD)/obj/%.o) \
                  $(addprefix $(BUILD)/obj/sim/,engine.o rmap.o stats.o)
LIBMIXSCOPE    := $(BUILD)/libmixscope.a
SCOPE_LIBS     := -lpcap

$(LIBMIXSCOPE): $(SCOPE_LIB_OBJS)
	$(call say,AR,$@)rm -f $@ && ar rcs $@ $^

$(BUILD)/mixscope: $(BUILD)/obj/scope/main.o $(LIBMIXSCOPE) $(LIBMIX)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $^ $(SCOPE_LIBS) $(LIBS)

PROGRAMS += $(BUILD)/mixscope

# The fuzz target of the capture and stream parser (tests/fuzz/fuzz_scope_capture.c).
FUZZ_LIBS_scope_capture := $(LIBMIXSCOPE) $(LIBMIX) $(SCOPE_LIBS)
FUZZ_SRCS_scope_capture := $(SCOPE_LIB_SRCS) sim/engine.c sim/rmap.c sim/stats.c
# The ground-truth target file parser (tests/fuzz/fuzz_scope_truth.c).
FUZZ_LIBS_scope_truth := $(LIBMIXSCOPE) $(LIBMIX) $(SCOPE_LIBS)
FUZZ_SRCS_scope_truth := scope/truth.c scope/capture.c
$(BUILD)/tests/replay_scope_truth: $(LIBMIXSCOPE)
$(BUILD)/tests/replay_scope_capture: $(LIBMIXSCOPE)

# Unit tests of scope/ (tests/unit/test_scope_*.c) link its library.
SCOPE_TESTS := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_scope_*.c))
$(foreach t,$(SCOPE_TESTS),$(eval TEST_LIBS_$(patsubst test_%,%,$(t)) := $(LIBMIXSCOPE) $(LIBMIX) $(SCOPE_LIBS)))
$(SCOPE_TESTS:%=$(BUILD)/tests/%): $(LIBMIXSCOPE)

# bench/scope.c: analysis speed against real time.
BENCH_LIBS_scope := $(LIBMIXSCOPE) $(LIBMIX) $(SCOPE_LIBS)
$(BUILD)/bench/scope: $(LIBMIXSCOPE)

.PHONY: install-scope check-observe
install-scope: $(BUILD)/mixscope
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 $(BUILD)/mixscope $(DESTDIR)$(PREFIX)/bin/mixscope
	install -m 0644 docs/man/mixscope.1 $(DESTDIR)$(PREFIX)/share/man/man1/mixscope.1
INSTALL_TARGETS += install-scope

# `make check-observe`: the live unobservability test (issue 11), minutes long and
# root-only (namespaces, tcpdump), so not part of `make check`.  Exit 77 of a test
# is a skip.
check-observe: all
	@rc=0; for t in tests/observe/*.py tests/observe/*.sh; do \
	    [ -x "$$t" ] || continue; \
	    echo "== $$t"; BUILD=$(BUILD) BUILD_ABS=$$(cd $(BUILD) && pwd) TOP=$$(pwd) "$$t"; r=$$?; \
	    if [ $$r -eq 77 ]; then echo "SKIP $$t"; elif [ $$r -ne 0 ]; then echo "FAIL $$t"; rc=1; \
	    else echo "PASS $$t"; fi; \
	done; exit $$rc

# `make scope-plots SCOPE_PLOT=DIR`: charts from `mixscope --plot DIR` (scope/plots.sh).
.PHONY: scope-plots
scope-plots: $(BUILD)/mixsim
	sh scope/plots.sh $(SCOPE_PLOT) $(BUILD)
