# bench/gateway: one gateway core driven by many simulated clients (issue 19).
BENCH_PROGRAMS += $(BUILD)/bench/gateway
$(BUILD)/bench/gateway: $(BUILD)/obj/bench/gateway/gateway_bench.o $(BUILD)/obj/bench/common/benchnet.o $(BUILD)/obj/tests/tools/mixtest_net.o $(LIBMIX)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $^ $(LIBS) -lev
