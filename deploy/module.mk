# deploy/: what `make install` puts in place for operators (owner: ops).
# Included by the top Makefile.  PREFIX and DESTDIR are honoured; the units
# are rewritten to run the programs from $(PREFIX)/bin and read their
# configuration from $(SYSCONFDIR)/mixnet.
SYSCONFDIR  ?= /etc
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
UNITS       := $(wildcard deploy/systemd/*.service)

.PHONY: install-node install-units
install-node: $(BUILD)/mixnode $(BUILD)/mixdir
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man5 \
	    $(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(PREFIX)/share/mixnet/examples
	install -m 0755 $(BUILD)/mixnode $(BUILD)/mixdir $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 $(wildcard docs/man/*.5) $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 0644 $(wildcard docs/man/*.8) $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 docs/man/testnet.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0755 deploy/testnet $(DESTDIR)$(PREFIX)/share/mixnet/testnet
	install -m 0755 deploy/netgen.py $(DESTDIR)$(PREFIX)/share/mixnet/netgen.py
	install -m 0644 $(wildcard deploy/examples/*.ini) $(DESTDIR)$(PREFIX)/share/mixnet/examples/

install-units:
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	for u in $(UNITS); do \
	    sed -e 's#/usr/local/bin/#$(PREFIX)/bin/#g' -e 's#/etc/mixnet/#$(SYSCONFDIR)/mixnet/#g' \
	        "$$u" > $(DESTDIR)$(UNITDIR)/$$(basename "$$u") && \
	    chmod 0644 $(DESTDIR)$(UNITDIR)/$$(basename "$$u") || exit 1; \
	done
	install -m 0644 deploy/systemd/mixnet-sysusers.conf $(DESTDIR)$(SYSUSERSDIR)/mixnet.conf

INSTALL_TARGETS += install-node install-units

# `make check-systemd`: every unit booted under a real systemd (systemd-nspawn
# containers of a debootstrapped Debian, cached in /var/tmp/mixnet-nspawn),
# root-only and needing the Debian archive the first time, so not part of
# `make check`.  Exit 77 is a skip (the reason on its last line).
.PHONY: check-systemd
check-systemd: all
	@BUILD=$(BUILD) BUILD_ABS=$$(cd $(BUILD) && pwd) TOP=$$(pwd) tests/systemd/boot.sh; r=$$?; \
	    if [ $$r -eq 77 ]; then echo "SKIP tests/systemd/boot.sh"; exit 0; fi; exit $$r
