#!/usr/bin/env bash
# The install as a host sees it (`make test-install`, part of `make test`): installs the release
# build into a scratch prefix, checks what is there (SONAME and links, no source-tree path, the
# pkg-config and CMake packages), builds examples/c and examples/cpp against it with pkg-config
# and with CMake's find_package, each linked shared and static, runs all eight with an empty
# environment (ONNX Runtime found in the prefix with nothing set), uninstalls, and prints the
# installed sizes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$root/target/install-test
prefix=$work/prefix
rm -rf "$work"
mkdir -p "$work"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -1)
fail() { echo "test-install: $*" >&2; exit 1; }

"$root/.ci/install.sh" "$prefix"
lib=$prefix/lib

# The shared library's names.
[ "$(readlink "$lib/libinferkit.so")" = libinferkit.so.0 ] || fail "libinferkit.so does not link to libinferkit.so.0"
[ "$(readlink "$lib/libinferkit.so.0")" = "libinferkit.so.$version" ] || fail "libinferkit.so.0 does not link to libinferkit.so.$version"
soname=$(readelf -d "$lib/libinferkit.so.$version" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = libinferkit.so.0 ] || fail "SONAME is '$soname', expected libinferkit.so.0"
# Nothing of the source tree is compiled in.
for f in "$lib/libinferkit.so.$version" "$lib/libinferkit.a"; do
  if grep -qF "$root" "$f"; then fail "$f contains the source path $root"; fi
done

# pkg-config.
export PKG_CONFIG_PATH=$lib/pkgconfig
[ "$(pkg-config --modversion inferkit)" = "$version" ] || fail "pkg-config --modversion inferkit"
pkg-config --static --libs inferkit | grep -q -- "-ldl" || fail "pkg-config --static lacks the system libraries"

cflags="-Wall -Wextra -Wpedantic -Werror"
out=$work/bin
mkdir -p "$out"
# Shared: as a host links it, with an rpath to the library's directory.
cc -std=c11 $cflags "$root/examples/c/request.c" $(pkg-config --cflags --libs inferkit) \
  -Wl,-rpath,"$(pkg-config --variable=libdir inferkit)" -lpthread -o "$out/c-pkgconfig-shared"
cc -std=c11 $cflags "$root/examples/c/request.c" $(pkg-config --cflags --libs inferkit-static) -o "$out/c-pkgconfig-static"
c++ -std=c++17 $cflags "$root/examples/cpp/main.cpp" $(pkg-config --cflags --libs inferkit) \
  -Wl,-rpath,"$(pkg-config --variable=libdir inferkit)" -o "$out/cpp-pkgconfig-shared"
c++ -std=c++17 $cflags "$root/examples/cpp/main.cpp" $(pkg-config --cflags --libs inferkit-static) -o "$out/cpp-pkgconfig-static"

# CMake find_package.
for lang in c cpp; do
  for kind in shared static; do
    static=OFF; [ "$kind" = static ] && static=ON
    build=$work/cmake-$lang-$kind
    cmake -S "$root/examples/$lang" -B "$build" -DCMAKE_PREFIX_PATH="$prefix" \
      -DINFERKIT_EXAMPLE_STATIC=$static -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build" -j2 >/dev/null
    exe=$build/example_request; [ "$lang" = cpp ] && exe=$build/example_cpp
    cp "$exe" "$out/$lang-cmake-$kind"
  done
done

# Static programs must not need libinferkit.so; shared ones must name it by its SONAME.
for f in "$out"/*-static; do
  if readelf -d "$f" | grep -q 'libinferkit'; then fail "$f needs libinferkit.so"; fi
done
for f in "$out"/*-shared; do
  readelf -d "$f" | grep -q 'NEEDED.*\[libinferkit.so.0\]' || fail "$f does not need libinferkit.so.0"
done

# Run each with nothing set: ONNX Runtime is the prefix's copy.
model=$root/tests/fixtures/mlp.onnx
for f in "$out"/*; do
  log=$work/$(basename "$f").log
  if ! env -i PATH=/usr/bin:/bin "$f" "$model" >"$log" 2>&1; then
    cat "$log"; fail "$(basename "$f") failed with an empty environment"
  fi
  grep -qF "$lib/inferkit/libonnxruntime.so.1" "$log" || { cat "$log"; fail "$(basename "$f") did not use the prefix's ONNX Runtime"; }
  echo "test-install: $(basename "$f") ran with nothing set ($(grep -c . "$log") lines of output)"
done

# CMake's version check: 0.1 and 0.1.0 are found, a newer or other minor and a missing component
# are not.
probe=$work/cmake-probe
mkdir -p "$probe"
for want in "0.1:yes" "0.1.0:yes" "0.1...<0.2:yes" "0.2:no" "1.0:no" "0.1 COMPONENTS nothing:no"; do
  spec=${want%%:*}; expect=${want##*:}
  printf 'cmake_minimum_required(VERSION 3.19)\nproject(p C)\nfind_package(inferkit %s REQUIRED)\n' "$spec" > "$probe/CMakeLists.txt"
  rm -rf "$probe/build"
  if cmake -S "$probe" -B "$probe/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null 2>&1; then got=yes; else got=no; fi
  [ "$got" = "$expect" ] || fail "find_package(inferkit $spec): found=$got, expected $expect"
done

# A prefix copied elsewhere (the original hidden) still builds and runs, through both packages.
moved=$work/moved
cp -a "$prefix" "$moved"
mv "$prefix" "$prefix.hidden"
PKG_CONFIG_PATH=$moved/lib/pkgconfig cc -std=c11 $cflags "$root/examples/c/request.c" \
  $(PKG_CONFIG_PATH=$moved/lib/pkgconfig pkg-config --cflags --libs inferkit-static) -o "$work/moved-pkgconfig"
cmake -S "$root/examples/c" -B "$work/moved-cmake" -DCMAKE_PREFIX_PATH="$moved" >/dev/null
cmake --build "$work/moved-cmake" >/dev/null
for f in "$work/moved-pkgconfig" "$work/moved-cmake/example_request"; do
  env -i PATH=/usr/bin:/bin "$f" "$model" > "$work/moved.log" 2>&1 || { cat "$work/moved.log"; fail "$f failed from the moved prefix"; }
  grep -qF "$moved/lib/inferkit/libonnxruntime.so.1" "$work/moved.log" || { cat "$work/moved.log"; fail "$f did not use the moved prefix's ONNX Runtime"; }
done
rm -rf "$moved"
mv "$prefix.hidden" "$prefix"
echo "test-install: find_package's version checks and a moved prefix: passed"

# Sizes, as the README quotes them.
strip -o "$work/c-static.stripped" "$out/c-pkgconfig-static"
size() { stat -c %s "$1" | awk '{printf "%.1f MB", $1 / 1e6}'; }
echo "test-install: sizes: libinferkit.so (stripped) $(size "$lib/libinferkit.so.$version"), libinferkit.a (debug info stripped) $(size "$lib/libinferkit.a"), static C example (stripped) $(size "$work/c-static.stripped")"

"$root/.ci/install.sh" --uninstall "$prefix"
left=$(find "$prefix" \( -type f -o -type l \) -print)
[ -z "$left" ] || fail "uninstall left: $left"
echo "test-install: passed"
