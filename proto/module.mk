# proto/: frame schema helpers.  Included by the top Makefile.
#
# tests/tools/frame_tool writes sample frames and reads one back; it lets
# tests/integration/frame_protoc_decode.sh show that `protoc --decode` with
# proto/mixnet.proto reads our frames (and that we read protoc's).
TEST_PROGRAMS += $(BUILD)/tests/frame_tool
$(BUILD)/tests/frame_tool: $(BUILD)/obj/tests/tools/frame_tool.o $(LIBMIX)
	@mkdir -p $(dir $@)
	$(call say,LD,$@)$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $^ $(LIBS)
