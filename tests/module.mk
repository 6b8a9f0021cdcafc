# tests/: helper programs used by integration tests (owner: noise engineer
# for tests/tools/noise_peer).  Included by the top Makefile.

# noise_peer: lib/link.c on a real loopback socket, driven by
# tests/integration/noise_interop.py; also writes the fuzz seeds of
# tests/fuzz/corpus/noise_responder/.
TEST_PROGRAMS += $(BUILD)/tests/tools/noise_peer
$(BUILD)/tests/tools/noise_peer: $(BUILD)/obj/tests/tools/noise_peer.o $(LIBMIX)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $^ $(LIBS)

# seccomp_run: runs a daemon under the system call filter of its systemd unit
# (tests/integration/systemd_seccomp.sh).  Built only where libseccomp-dev is
# installed (deploy/deps.sh lists it); the test skips without it.
ifneq ($(shell pkg-config --exists libseccomp 2>/dev/null && echo yes),)
TEST_PROGRAMS += $(BUILD)/tests/tools/seccomp_run
$(BUILD)/tests/tools/seccomp_run: $(BUILD)/obj/tests/tools/seccomp_run.o
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $^ $$(pkg-config --libs libseccomp)
endif

# mixabuse: the attacker of tests/abuse/ (many links from several loopback
# source addresses: fetch floods, idle and half-open links, connection storms).
TEST_PROGRAMS += $(BUILD)/tests/mixabuse
$(BUILD)/tests/mixabuse: $(BUILD)/obj/tests/tools/mixabuse.o $(LIBMIX)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $^ $(LIBS)
