#!/bin/sh
# spec_sphinx_node.py on the KEM packet format (docs/spec/sphinx.md section
# 15): packets and SURBs built in Python from the spec cross real nodes whose
# document says sphinx_format kem-x25519.
exec /usr/bin/python3 "${TOP:-.}/tests/integration/spec_sphinx_node.py" --sphinx-format kem-x25519
