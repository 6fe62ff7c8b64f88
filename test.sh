#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what the tests need (tshark, editcap,
# tcpdump, libpcap, libzstd) when missing, then runs every test project. README.md and .ci/run use it.

set -euo pipefail
cd "$(dirname "$0")"

need_apt=()
command -v tshark >/dev/null 2>&1 || need_apt+=(tshark)
command -v editcap >/dev/null 2>&1 || need_apt+=(wireshark-common)
command -v tcpdump >/dev/null 2>&1 || need_apt+=(tcpdump)
ldconfig -p 2>/dev/null | grep -q 'libpcap.so.0.8' || need_apt+=(libpcap0.8)
# Segment chunks are compressed by the system libzstd when it loads (the managed port otherwise): test that path.
ldconfig -p 2>/dev/null | grep -q 'libzstd.so.1' || need_apt+=(libzstd1)
if [ "${#need_apt[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# README: "Run the tests" (the summary line below only totals what dotnet test printed)
log=$(mktemp)
set +e
dotnet test TrafficStore.sln -c Release 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
passed=$(grep -oE 'Passed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
failed=$(grep -oE 'Failed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
skipped=$(grep -oE 'Skipped: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit "$status"
