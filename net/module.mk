# net/: the connection layer both daemons (node/, dir/) and the test tools
# share; the client (client/module.mk) links net/sock.c alone.  Included by
# the top Makefile before the other folders' module.mk, which use NET_OBJS.
# Not part of libmix.a (it does I/O).
#
#   net/sock.c          the socket calls every link shares (also in libmixclient)
#   net/conn.c          libev TCP connections carrying lib/link
#   net/dir_exchange.c  one request, one answer, over a link to an authority
NET_SRCS := net/sock.c net/conn.c net/dir_exchange.c
NET_OBJS := $(NET_SRCS:%.c=$(BUILD)/obj/%.o)
NET_LIBS := -lev

# The unit test of conn links the object and libev ($^ puts conn.o after
# libmix.a, so libmix is listed again for link_* symbols).
$(BUILD)/tests/test_net_conn: $(BUILD)/obj/net/conn.o $(BUILD)/obj/net/sock.o
TEST_LIBS_net_conn := $(LIBMIX) $(NET_LIBS)
$(BUILD)/tests/test_net_sock: $(BUILD)/obj/net/sock.o
TEST_LIBS_net_sock := $(LIBMIX)
