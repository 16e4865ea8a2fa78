#!/usr/bin/env bash
# Builds every test/native/*_test.cc against the C++ core (cpp/, never cpp/napi) twice:
# with AddressSanitizer + UBSan and with ThreadSanitizer, runs each, and prints one
# "N passed, N failed" line. Any sanitizer report fails the run.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=test/native/out
mkdir -p "$out"
CXX=${CXX:-g++}
mapfile -t core < <(find cpp -name '*.cc' -not -path 'cpp/napi/*' | sort)
mapfile -t tests < <(find test/native -maxdepth 1 -name '*_test.cc' | sort)
common=(-std=c++20 -O1 -g -ffp-contract=off -fno-omit-frame-pointer -UNDEBUG -Wall -Wextra -Werror -Icpp -pthread)
declare -A flags=(
  [asan]="-fsanitize=address,undefined -fno-sanitize-recover=all"
  [tsan]="-fsanitize=thread"
)
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
passed=0
failed=0
jobs=$(nproc 2>/dev/null || echo 2)
for san in asan tsan; do
  # The core is compiled once per sanitizer (in parallel), then linked into each test: compiling
  # every core file again for each of the tests took most of CI's time.
  objdir="$out/obj-$san"
  rm -rf "$objdir"
  mkdir -p "$objdir"
  objs=()
  for c in "${core[@]}"; do objs+=("$objdir/$(echo "${c%.cc}" | tr '/' '_').o"); done
  # shellcheck disable=SC2086
  if ! printf '%s\n' "${core[@]}" | xargs -P "$jobs" -I{} sh -c 'o="$1/$(echo "${2%.cc}" | tr / _).o"; shift 2; exec "$@" -c "$0" -o "$o"' {} "$objdir" {} "$CXX" "${common[@]}" ${flags[$san]}; then
    echo "FAIL core [$san]: compile error"
    failed=$((failed + ${#tests[@]}))
    continue
  fi
  for t in "${tests[@]}"; do
    name=$(basename "$t" .cc)
    bin="$out/$name.$san"
    # shellcheck disable=SC2086
    if ! "$CXX" "${common[@]}" ${flags[$san]} "$t" "${objs[@]}" -o "$bin"; then
      echo "FAIL $name [$san]: compile error"
      failed=$((failed + 1))
      continue
    fi
    if log=$("$bin" 2>&1); then
      echo "ok   $name [$san]${log:+: $(echo "$log" | tail -1)}"
      passed=$((passed + 1))
    else
      echo "$log" | tail -40
      echo "FAIL $name [$san]"
      failed=$((failed + 1))
    fi
  done
done
echo "native: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
