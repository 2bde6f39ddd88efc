#!/bin/sh
# test_exports.sh -- the shared library exports sl_* symbols only.
set -u
lib="${top_builddir:-.}/.libs/libspikeloop.so"
if [ ! -f "$lib" ]; then
  echo "SKIP: $lib not built (static-only build)"
  exit 77
fi
bad=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | grep -v '^sl_' || true)
count=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | grep -c '^sl_')
if [ -n "$bad" ]; then
  echo "FAIL: exported symbols without the sl_ prefix:"
  echo "$bad"
  exit 1
fi
if [ "$count" -lt 50 ]; then
  echo "FAIL: only $count sl_ symbols exported"
  exit 1
fi
echo "PASS: $count symbols exported, all sl_*"
