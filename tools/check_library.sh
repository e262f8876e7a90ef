#!/usr/bin/env bash
# Checks libscore.so against its contract:
#  1. every function declared in include/score.h is exported, and nothing else is;
#  2. its direct dependencies are system libraries only (the Swift runtime is static).
set -euo pipefail
lib=${1:-.build/release/libscore.so}
header=${2:-include/score.h}

declared=$(sed -e 's://.*$::' "$header" | tr '\n' ' ' | sed -e 's:/\*[^*]*\*\+\([^/*][^*]*\*\+\)*/::g' \
    | grep -oE '\bscore_[a-z0-9_]+[[:space:]]*\(' | grep -vE '^score_(log_fn)' | sed -E 's/[[:space:]]*\($//' | sort -u)
# typedef'd function pointer names appear as "(*score_x_fn)": drop them.
declared=$(echo "$declared" | grep -vE '_fn$' || true)
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sort -u)

status=0
missing=$(comm -23 <(echo "$declared") <(echo "$exported"))
extra=$(comm -13 <(echo "$declared") <(echo "$exported"))
if [ -n "$missing" ]; then echo "declared in $header but not exported: $missing"; status=1; fi
if [ -n "$extra" ]; then echo "exported but not declared in $header: $extra"; status=1; fi

allowed='^(libc|libm|libstdc\+\+|libgcc_s|libopenblas|libpthread|libdl|librt|ld-linux-x86-64)\.so'
needed=$(readelf -d "$lib" | sed -nE 's/.*\(NEEDED\).*\[(.*)\]/\1/p')
for dep in $needed; do
    if ! [[ $dep =~ $allowed ]]; then echo "unexpected dependency: $dep"; status=1; fi
done
# SwiftPM adds RUNPATH $ORIGIN; anything pointing into a toolchain is a leak.
runpath=$(readelf -d "$lib" | sed -nE 's/.*\((RUNPATH|RPATH)\).*\[(.*)\]/\2/p')
if [ -n "$runpath" ] && [ "$runpath" != '$ORIGIN' ]; then echo "libscore.so searches $runpath for libraries"; status=1; fi

n=$(echo "$declared" | wc -l)
if [ $status -eq 0 ]; then
    echo "libscore.so: $n functions declared and exported, no others; dependencies: $(echo $needed)"
fi
exit $status
