#!/usr/bin/env bash
# Installs inferkit's release build under a prefix, as a C and C++ library (`make install`):
#
#   .ci/install.sh PREFIX            (DESTDIR is honoured, as by make)
#   .ci/install.sh --uninstall PREFIX
#
#   PREFIX/lib/libinferkit.so -> libinferkit.so.0 -> libinferkit.so.0.1.0   (SONAME libinferkit.so.0)
#   PREFIX/lib/libinferkit.a
#   PREFIX/include/inferkit.h, inferkit.hpp
#   PREFIX/lib/pkgconfig/inferkit.pc, inferkit-static.pc
#   PREFIX/lib/cmake/inferkit/inferkitConfig.cmake, inferkitConfigVersion.cmake
#                                    (imported targets inferkit::inferkit, inferkit::inferkit_static)
#   PREFIX/lib/inferkit/libonnxruntime.so.1.31.1 (+ libonnxruntime.so.1): ONNX Runtime, which an
#                                    installed libinferkit finds beside itself with nothing set
#
# Libraries are stripped. The build is target/release (make install builds it first).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
uninstall=0
if [ "${1:-}" = --uninstall ]; then uninstall=1; shift; fi
prefix=${1:?usage: install.sh [--uninstall] PREFIX}
case "$prefix" in /*) ;; *) echo "install.sh: PREFIX must be absolute (got $prefix)" >&2; exit 1 ;; esac
prefix=${prefix%/}
dest=${DESTDIR:-}$prefix

version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -1)
major=${version%%.*}
ort=libonnxruntime.so.1.31.1

files=(
  "lib/libinferkit.so" "lib/libinferkit.so.$major" "lib/libinferkit.so.$version" "lib/libinferkit.a"
  "include/inferkit.h" "include/inferkit.hpp"
  "lib/pkgconfig/inferkit.pc" "lib/pkgconfig/inferkit-static.pc"
  "lib/cmake/inferkit/inferkitConfig.cmake" "lib/cmake/inferkit/inferkitConfigVersion.cmake"
  "lib/inferkit/$ort" "lib/inferkit/libonnxruntime.so.1"
)

if [ "$uninstall" = 1 ]; then
  for f in "${files[@]}"; do rm -f "$dest/$f"; done
  rmdir "$dest/lib/cmake/inferkit" "$dest/lib/inferkit" 2>/dev/null || true
  echo "install.sh: removed inferkit $version from $dest" >&2
  exit 0
fi

rel=$root/target/release
for f in "$rel/libinferkit.so" "$rel/libinferkit.a" "$root/target/onnxruntime/$ort"; do
  [ -f "$f" ] || { echo "install.sh: $f is missing (run make install, which builds it)" >&2; exit 1; }
done

install -d "$dest/lib/pkgconfig" "$dest/lib/cmake/inferkit" "$dest/lib/inferkit" "$dest/include"
install -m 755 "$rel/libinferkit.so" "$dest/lib/libinferkit.so.$version"
strip --strip-unneeded "$dest/lib/libinferkit.so.$version"
ln -sfn "libinferkit.so.$version" "$dest/lib/libinferkit.so.$major"
ln -sfn "libinferkit.so.$major" "$dest/lib/libinferkit.so"
install -m 644 "$rel/libinferkit.a" "$dest/lib/libinferkit.a"
strip --strip-debug "$dest/lib/libinferkit.a"
install -m 644 "$root/include/inferkit.h" "$root/include/inferkit.hpp" "$dest/include/"
install -m 755 "$root/target/onnxruntime/$ort" "$dest/lib/inferkit/$ort"
ln -sfn "$ort" "$dest/lib/inferkit/libonnxruntime.so.1"

cat > "$dest/lib/pkgconfig/inferkit.pc" <<PC
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include
ortdir=\${libdir}/inferkit
staticlib=\${libdir}/libinferkit.a

Name: inferkit
Description: In-process model serving on ONNX Runtime (C ABI)
Version: $version
URL: https://github.com/inferkit/inferkit
Cflags: -I\${includedir}
Libs: -L\${libdir} -linferkit
Libs.private: -lpthread -ldl -lm -Wl,-rpath,\${ortdir}
PC

# Linking libinferkit.a: the archive itself (a bare -linferkit would pick the .so beside it), the
# system libraries it needs, and an rpath to ONNX Runtime's directory so the program's loader
# lookup finds it there.
cat > "$dest/lib/pkgconfig/inferkit-static.pc" <<PC
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include
ortdir=\${libdir}/inferkit

Name: inferkit-static
Description: In-process model serving on ONNX Runtime (C ABI), linked statically
Version: $version
Cflags: -I\${includedir} -DINFERKIT_STATIC
Libs: \${libdir}/libinferkit.a -lpthread -ldl -lm -Wl,-rpath,\${ortdir}
PC

cat > "$dest/lib/cmake/inferkit/inferkitConfig.cmake" <<'CMAKE'
# inferkit's CMake package: find_package(inferkit 0.1 REQUIRED), then link
#   inferkit::inferkit         the shared library (libinferkit.so.0)
#   inferkit::inferkit_static  the static library, with the system libraries it needs
# ONNX Runtime is found at run time in <prefix>/lib/inferkit/ (beside the shared library; through
# an rpath for the static one).
get_filename_component(_inferkit_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
include(CMakeFindDependencyMacro)
find_dependency(Threads)
if(NOT TARGET inferkit::inferkit)
  add_library(inferkit::inferkit SHARED IMPORTED)
  set_target_properties(inferkit::inferkit PROPERTIES
    IMPORTED_LOCATION "${_inferkit_prefix}/lib/libinferkit.so.@VERSION@"
    IMPORTED_SONAME "libinferkit.so.@MAJOR@"
    INTERFACE_INCLUDE_DIRECTORIES "${_inferkit_prefix}/include")
endif()
if(NOT TARGET inferkit::inferkit_static)
  add_library(inferkit::inferkit_static STATIC IMPORTED)
  set_target_properties(inferkit::inferkit_static PROPERTIES
    IMPORTED_LOCATION "${_inferkit_prefix}/lib/libinferkit.a"
    INTERFACE_INCLUDE_DIRECTORIES "${_inferkit_prefix}/include"
    INTERFACE_COMPILE_DEFINITIONS "INFERKIT_STATIC"
    INTERFACE_LINK_LIBRARIES "Threads::Threads;${CMAKE_DL_LIBS};m"
    INTERFACE_LINK_OPTIONS "LINKER:-rpath,${_inferkit_prefix}/lib/inferkit")
endif()
set(inferkit_INCLUDE_DIR "${_inferkit_prefix}/include")
unset(_inferkit_prefix)
CMAKE
sed -i "s/@VERSION@/$version/; s/@MAJOR@/$major/" "$dest/lib/cmake/inferkit/inferkitConfig.cmake"

cat > "$dest/lib/cmake/inferkit/inferkitConfigVersion.cmake" <<CMAKE
# Compatible when the requested version is not newer and has the same major (for 0.x, the same
# minor: before 1.0 a minor release may break).
set(PACKAGE_VERSION "$version")
if(PACKAGE_FIND_VERSION VERSION_GREATER PACKAGE_VERSION)
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
elseif(NOT PACKAGE_FIND_VERSION_MAJOR STREQUAL "$major")
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
elseif("$major" STREQUAL "0" AND NOT PACKAGE_FIND_VERSION_MINOR STREQUAL "$(echo "$version" | cut -d. -f2)")
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
else()
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
  if(PACKAGE_FIND_VERSION STREQUAL PACKAGE_VERSION)
    set(PACKAGE_VERSION_EXACT TRUE)
  endif()
endif()
if(NOT CMAKE_SIZEOF_VOID_P STREQUAL "8")
  set(PACKAGE_VERSION "\${PACKAGE_VERSION} (64-bit)")
  set(PACKAGE_VERSION_UNSUITABLE TRUE)
endif()
CMAKE
echo "install.sh: inferkit $version installed in $dest" >&2
