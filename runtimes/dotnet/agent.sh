#!/bin/sh
# Starts fc-emulator's .NET agent the way FC's agent.sh does (runtimes.md §14.1): the code folder first on
# LD_LIBRARY_PATH and PATH, then `dotnet` ($1) on bin/Aliyun.Serverless.CA.dll. .NET Core 3.1 looks for ICU
# only up to the versions it knew in 2019: the newest libicuuc here is named to it (else invariant mode).
dotnet="$1"
here="${0%/*}"
code="${FC_FUNC_CODE_PATH:-/code}"
# A standby (FC_EMULATOR_STANDBY=1) has no code folder yet: its host puts it there at POST /assign (Standby.cs).
if [ "$FC_EMULATOR_STANDBY" != 1 ]; then
  export LD_LIBRARY_PATH="$code:$code/lib:$code/runtimes/linux-x64/native${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export PATH="$code:$PATH"
fi
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
if [ -z "$CLR_ICU_VERSION_OVERRIDE" ] && [ -z "$DOTNET_SYSTEM_GLOBALIZATION_INVARIANT" ]; then
  icu=0
  for lib in /usr/lib/*/libicuuc.so.[0-9]* /usr/lib/libicuuc.so.[0-9]* /usr/lib64/libicuuc.so.[0-9]*; do
    [ -e "$lib" ] || continue
    v="${lib##*.so.}"
    v="${v%%.*}"
    [ "$v" -gt "$icu" ] 2>/dev/null && icu="$v"
  done
  if [ "$icu" -gt 0 ]; then
    export CLR_ICU_VERSION_OVERRIDE="$icu"
  else
    export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1
  fi
fi
exec "$dotnet" "$here/bin/Aliyun.Serverless.CA.dll"
