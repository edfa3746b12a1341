#!/bin/sh
# Makes sure the Debian packages a make target needs are installed.
# As root it installs what is missing with apt-get; otherwise it prints the
# one apt-get line needed and fails.
#   scripts/deps.sh build|check|bench
set -e
build="cmake make gcc pkg-config"
check="$build libcmocka-dev libzmq3-dev libtirpc-dev clang libclang-rt-14-dev kcat librdkafka-dev"
bench="$build libzmq3-dev libnng-dev libtirpc-dev rpcsvc-proto libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc g++ gnuplot-nox librdkafka-dev redis-server"
case "${1:-build}" in
  build) want=$build ;;
  check) want=$check ;;
  bench) want=$bench ;;
  *) echo "usage: $0 build|check|bench" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "tern needs these Debian packages:$missing" >&2
  echo "run: sudo apt-get install -y$missing" >&2
  exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q $missing >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q $missing; }
