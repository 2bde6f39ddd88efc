#!/bin/sh
# test_exports.sh -- the shared library exports exactly the functions that
# the public headers (include/spikeloop/*.h) declare: nothing internal leaks
# (internal names use other prefixes: sli_, slk_, slb_, slb2_, ...), and
# every declared function is there.
set -u
lib="${top_builddir:-.}/.libs/libspikeloop.so"
inc="${top_srcdir:-.}/include/spikeloop"
if [ ! -f "$lib" ]; then
  echo "SKIP: $lib not built (static-only build)"
  exit 77
fi
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sort -u >"$tmp/exported"
# names followed by "(" outside comments: the declared functions
sed -e 's#/\*.*\*/##g' "$inc"/*.h | grep -v '^[[:space:]]*\*' | grep -v '^[[:space:]]*/\*' |
  grep -oE '\bsl_[a-z0-9_]+[[:space:]]*\(' | sed 's/[[:space:]]*($//' | sort -u >"$tmp/declared"
extra=$(comm -23 "$tmp/exported" "$tmp/declared")
missing=$(comm -13 "$tmp/exported" "$tmp/declared")
status=0
if [ -n "$extra" ]; then
  echo "FAIL: exported but declared in no public header:"
  echo "$extra"
  status=1
fi
if [ -n "$missing" ]; then
  echo "FAIL: declared in a public header but not exported:"
  echo "$missing"
  status=1
fi
n=$(wc -l <"$tmp/exported")
if [ "$n" -lt 50 ]; then
  echo "FAIL: only $n symbols exported"
  status=1
fi
[ $status -eq 0 ] && echo "PASS: $n symbols exported, exactly the public headers' functions"
exit $status
