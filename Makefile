# Plain Makefile for the mixnet.  See README.md.
#
#   make            build everything into build/
#   make check      install missing Debian packages, build, run every test
#   make testnet    install missing Debian packages, build, run a local testnet
#   make bench      build and run the benchmarks (one "<name> <value> <unit>" line each)
#   make fuzz       build the libFuzzer targets with clang into $(BUILD)/fuzz/
#   make SANITIZE=address,undefined check    the same under ASan and UBSan
#   make V=1        show the commands
#   make WERROR=1   treat warnings as errors (CI does this)
#
# Each folder may add programs through its own module.mk, included below; the
# conventions (lib/*.c -> libmix.a, tests/unit/test_*.c, tests/fuzz/fuzz_*.c,
# bench/*.c) need no edit here.

ifeq ($(SANITIZE),)
BUILD ?= build
else
BUILD ?= build/san
endif

CC      ?= cc
FUZZCC  ?= clang
PREFIX  ?= /usr/local
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wvla
ifneq ($(WERROR),)
WARN    += -Werror
endif
CPPFLAGS_ALL := -D_GNU_SOURCE -Ilib -Isys -Iproto -Inet -Inode -Idir -Iclient -Isim
CFLAGS_ALL   := -std=c11 $(WARN) $(CFLAGS) -pthread -fno-strict-aliasing
LDFLAGS_ALL  := $(LDFLAGS) -pthread
ifneq ($(SANITIZE),)
CFLAGS_ALL   += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS_ALL  += -fsanitize=$(SANITIZE)
endif
LIBS := -lsodium -lprotobuf-c -lcbor -linih -lm

ifeq ($(V),)
Q = @
say = @printf '  %-7s %s\n' $(1) $(2);
else
Q =
say =
endif

# --- generated protobuf-c code (kept in proto/, regenerated from the schemas)
PROTOS    := $(wildcard proto/*.proto)
PROTO_C   := $(PROTOS:.proto=.pb-c.c)
PROTO_H   := $(PROTOS:.proto=.pb-c.h)
proto/%.pb-c.c proto/%.pb-c.h: proto/%.proto
	$(call say,PROTOC,$<)protoc-c --proto_path=proto --c_out=proto $<

# --- libmix: the I/O-free core (lib/) and the system layer over it (sys/:
# files, logs, configuration files, scheduling), archived together
LIB_SRCS := $(sort $(wildcard lib/*.c)) $(sort $(wildcard sys/*.c)) $(PROTO_C)
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
LIBMIX   := $(BUILD)/libmix.a

# Layering, enforced by include paths: a source file sees its own folder and
# the folders below it, so an include across a forbidden line fails to compile.
# lib/ (pure) sees lib/ and proto/; sys/ (files, logs, config files,
# scheduling) sees lib/ and sys/; sim/ and scope/ see lib/ and sys/; net/ (the
# daemons' connection layer) sees lib/, sys/ and proto/; node/ and dir/ (one
# folder per daemon) see those and net/ but not each other; client/ sees lib/,
# sys/, proto/ and net/ (its socket calls are net/sock.h's).  Tests, tools
# and benchmarks see all.
INC_lib    := -Ilib -Iproto
INC_sys    := -Ilib -Isys
INC_sim    := -Ilib -Isys -Isim
INC_scope  := -Ilib -Isys -Iscope -Isim
INC_net    := -Ilib -Isys -Iproto -Inet
INC_node   := -Ilib -Isys -Iproto -Inet -Inode
INC_dir    := -Ilib -Isys -Iproto -Inet -Idir
INC_client := -Ilib -Isys -Iproto -Inet -Iclient
layer_inc   = $(if $(INC_$(firstword $(subst /, ,$(1)))),-D_GNU_SOURCE $(INC_$(firstword $(subst /, ,$(1)))),$(CPPFLAGS_ALL))

$(BUILD)/obj/%.o: %.c | $(PROTO_H)
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(CC) $(call layer_inc,$<) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

# The generated files are compiled without our stricter warnings.
$(BUILD)/obj/proto/%.pb-c.o: proto/%.pb-c.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)$(CC) $(CPPFLAGS_ALL) -std=c11 $(CFLAGS) $(filter -fsanitize=% -fno-omit-frame-pointer -fno-sanitize-recover=all,$(CFLAGS_ALL)) -MMD -MP -c $< -o $@

$(LIBMIX): $(LIB_OBJS)
	$(call say,AR,$@)rm -f $@ && ar rcs $@ $^

PROGRAMS :=
TEST_PROGRAMS :=
BENCH_PROGRAMS :=
INSTALL_TARGETS :=

# --- folder fragments (node/, client/, sim/ ... each may define programs);
# net/ first: the daemons' fragments list its objects as prerequisites
include net/module.mk
include $(sort $(filter-out net/module.mk,$(wildcard */module.mk)))

# --- unit tests: tests/unit/test_*.c, each its own program over libmix
UNIT_SRCS  := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
$(BUILD)/tests/test_%: $(BUILD)/obj/tests/unit/test_%.o $(LIBMIX)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $^ $(TEST_LIBS_$*) $(LIBS)

# --- fuzz targets: tests/fuzz/fuzz_*.c.  In `make check` each is linked with
# tests/fuzz/replay.c and replays its corpus tests/fuzz/corpus/<name>/.
FUZZ_SRCS  := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_NAMES := $(FUZZ_SRCS:tests/fuzz/fuzz_%.c=%)
REPLAY_BINS := $(FUZZ_NAMES:%=$(BUILD)/tests/replay_%)
$(BUILD)/tests/replay_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(BUILD)/obj/tests/fuzz/replay.o $(LIBMIX)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $^ $(FUZZ_LIBS_$*) $(LIBS)

FUZZ_BINS := $(FUZZ_NAMES:%=$(BUILD)/fuzz/fuzz_%)
FUZZ_FLAGS := -O1 -g -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer
# Secondary expansion lets a target's extra sources (FUZZ_SRCS_<name>) be prerequisites too.
.SECONDEXPANSION:
$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(LIB_SRCS) $$(FUZZ_SRCS_$$*) | $(PROTO_H)
	@mkdir -p $(dir $@)
	$(call say,FUZZCC,$@)$(FUZZCC) $(CPPFLAGS_ALL) -std=c11 $(FUZZ_FLAGS) -o $@ $< $(LIB_SRCS) $(FUZZ_SRCS_$*) $(FUZZ_LIBS_$*) $(LIBS) -pthread

# --- benchmarks: bench/*.c, one program each
BENCH_SRCS := $(sort $(wildcard bench/*.c))
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%) $(BENCH_PROGRAMS)
$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(LIBMIX)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $^ $(BENCH_LIBS_$*) $(LIBS)

# ---------------------------------------------------------------- targets
.PHONY: all build deps check check-run testnet testnet-run bench bench-run \
        fuzz clean install plots
.DEFAULT_GOAL := all
.SECONDARY:
.DELETE_ON_ERROR:

all build: $(LIBMIX) $(PROGRAMS) $(UNIT_BINS) $(REPLAY_BINS) $(TEST_PROGRAMS) $(BENCH_BINS)

deps:
	@sh deploy/deps.sh

# The user-facing targets install what is missing first, then build in a
# fresh make so that every tool they need is on the PATH.
check: deps
	@$(MAKE) --no-print-directory check-run

check-run: all
	@sh tests/run.sh $(BUILD)

testnet: deps
	@$(MAKE) --no-print-directory testnet-run

testnet-run: all
	@MIX_BIN=$(BUILD) deploy/testnet up --foreground

bench: deps
	@$(MAKE) --no-print-directory bench-run

bench-run: all
	@sh bench/run.sh $(BUILD)

fuzz: $(FUZZ_BINS)

install: all $(INSTALL_TARGETS)

clean:
	rm -rf build $(PROTO_C) $(PROTO_H)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# make format-check: every C file of the repository follows .clang-format
# (docs/style.md); CI runs it.
FORMAT_DIRS := lib sys proto net node dir client scope sim bench tests examples
.PHONY: format-check
format-check:
	@files=$$(find $(FORMAT_DIRS) -name '*.[ch]' ! -name '*.pb-c.[ch]' 2>/dev/null | sort) && \
	    clang-format --dry-run -Werror $$files && \
	    echo "format-check: $$(echo "$$files" | wc -l) files follow .clang-format"

# make layering-check: an include across a forbidden line fails to compile
# (and, as a control, an allowed one compiles with the same command); of net/,
# client/ includes sock.h alone (a grep: include paths cannot split a folder).
LAYER_DENY  := client:node.h client:mixdir.h node:cconn.h node:core.h lib:conn.h lib:cconf.h \
               lib:log.h lib:fileio.h lib:conf.h sys:conn.h sys:core.h sim:conn.h sim:core.h \
               scope:node.h node:dir_conf.h node:mixdir.h dir:node.h dir:node_conf.h \
               net:node.h net:mixdir.h net:dir_conf.h net:cconn.h
LAYER_ALLOW := client:pki.h client:cconn.h client:log.h client:sock.h node:pki.h node:conn.h \
               node:fileio.h lib:pki.h sys:pki.h sys:log.h sim:mixq.h sim:conf.h dir:conn.h dir:dir_exchange.h \
               dir:mixdir.h node:dir_exchange.h net:log.h
layer_probe = echo '\#include "$(word 2,$(subst :, ,$(1)))"' | \
    $(CC) $(call layer_inc,$(word 1,$(subst :, ,$(1)))/x.c) -fsyntax-only -x c - 2>/dev/null
.PHONY: layering-check
layering-check: | $(PROTO_H)
	@$(foreach p,$(LAYER_DENY),if $(call layer_probe,$(p)); then \
	    echo "layering-check: $(p) compiles"; exit 1; fi;) \
	$(foreach p,$(LAYER_ALLOW),if ! $(call layer_probe,$(p)); then \
	    echo "layering-check: $(p) does not compile"; exit 1; fi;) \
	if grep -n '^#include "\(conn\|dir_exchange\)\.h"' client/*.c client/*.h; then \
	    echo "layering-check: client/ may use net/sock.h only (libmixclient links sock.o alone)"; exit 1; fi; \
	echo "layering-check: forbidden includes fail to compile, allowed ones compile"
