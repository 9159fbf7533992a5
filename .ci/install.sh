#!/usr/bin/env bash
# Installs inferkit's release build under a prefix, as a C and C++ library (`make install`):
#
#   .ci/install.sh PREFIX            (DESTDIR is honoured, as by make; LIBDIR and INCLUDEDIR
#                                    default to PREFIX/lib and PREFIX/include)
#   .ci/install.sh --uninstall PREFIX  (removes what the install's manifest lists)
#
#   PREFIX/lib/libinferkit.so -> libinferkit.so.0 -> libinferkit.so.0.1.0   (SONAME libinferkit.so.0)
#   PREFIX/lib/libinferkit.a
#   PREFIX/include/inferkit.h, inferkit.hpp
#   PREFIX/lib/pkgconfig/inferkit.pc, inferkit-static.pc
#   PREFIX/lib/cmake/inferkit/inferkitConfig.cmake, inferkitConfigVersion.cmake
#                                    (imported targets inferkit::inferkit, inferkit::inferkit_static)
#   PREFIX/lib/inferkit/libonnxruntime.so.1.31.1 (+ libonnxruntime.so.1): ONNX Runtime, which an
#                                    installed libinferkit finds beside itself with nothing set
#   PREFIX/lib/inferkit/install_manifest.txt: every path installed, for --uninstall
#
# The pkg-config and CMake files locate the prefix relative to themselves, so a prefix that is
# moved or copied elsewhere keeps working. Libraries are stripped. The build is target/release
# (make install builds it first).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
uninstall=0
if [ "${1:-}" = --uninstall ]; then uninstall=1; shift; fi
prefix=${1:?usage: install.sh [--uninstall] PREFIX}
case "$prefix" in /*) ;; *) echo "install.sh: PREFIX must be absolute (got $prefix)" >&2; exit 1 ;; esac
prefix=${prefix%/}
libdir=${LIBDIR:-$prefix/lib}
includedir=${INCLUDEDIR:-$prefix/include}
for d in "$libdir" "$includedir"; do
  case "$d" in "$prefix"/*) ;; *) echo "install.sh: $d must be inside $prefix" >&2; exit 1 ;; esac
done
dest=${DESTDIR:-}
manifest=$dest$libdir/inferkit/install_manifest.txt

version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -1)
major=${version%%.*}
minor=$(echo "$version" | cut -d. -f2)
ort=libonnxruntime.so.1.31.1

if [ "$uninstall" = 1 ]; then
  if [ -f "$manifest" ]; then
    while IFS= read -r f; do rm -f "$dest$f"; done < "$manifest"
    rm -f "$manifest"
  fi
  rmdir "$dest$libdir/cmake/inferkit" "$dest$libdir/inferkit" "$dest$libdir/pkgconfig" "$dest$libdir/cmake" 2>/dev/null || true
  echo "install.sh: removed inferkit from $dest$prefix" >&2
  exit 0
fi

# Paths relative to where the pkg-config and CMake files lie, so the prefix can move.
relto() { realpath -m --relative-to="$2" "$1"; }
pc_to_prefix=$(relto "$prefix" "$libdir/pkgconfig")
cmake_to_prefix=$(relto "$prefix" "$libdir/cmake/inferkit")
libdir_rel=$(relto "$libdir" "$prefix")
includedir_rel=$(relto "$includedir" "$prefix")

rel=$root/target/release
for f in "$rel/libinferkit.so" "$rel/libinferkit.a" "$root/target/onnxruntime/$ort"; do
  [ -f "$f" ] || { echo "install.sh: $f is missing (run make install, which builds it)" >&2; exit 1; }
done

L=$dest$libdir
install -d "$L/pkgconfig" "$L/cmake/inferkit" "$L/inferkit" "$dest$includedir"
install -m 755 "$rel/libinferkit.so" "$L/libinferkit.so.$version"
strip --strip-unneeded "$L/libinferkit.so.$version"
ln -sfn "libinferkit.so.$version" "$L/libinferkit.so.$major"
ln -sfn "libinferkit.so.$major" "$L/libinferkit.so"
install -m 644 "$rel/libinferkit.a" "$L/libinferkit.a"
strip --strip-debug "$L/libinferkit.a"
install -m 644 "$root/include/inferkit.h" "$root/include/inferkit.hpp" "$dest$includedir/"
install -m 755 "$root/target/onnxruntime/$ort" "$L/inferkit/$ort"
ln -sfn "$ort" "$L/inferkit/libonnxruntime.so.1"

cat > "$L/pkgconfig/inferkit.pc" <<PC
prefix=\${pcfiledir}/$pc_to_prefix
libdir=\${prefix}/$libdir_rel
includedir=\${prefix}/$includedir_rel
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
cat > "$L/pkgconfig/inferkit-static.pc" <<PC
prefix=\${pcfiledir}/$pc_to_prefix
libdir=\${prefix}/$libdir_rel
includedir=\${prefix}/$includedir_rel
ortdir=\${libdir}/inferkit

Name: inferkit-static
Description: In-process model serving on ONNX Runtime (C ABI), linked statically
Version: $version
Cflags: -I\${includedir} -DINFERKIT_STATIC
Libs: \${libdir}/libinferkit.a -lpthread -ldl -lm -Wl,-rpath,\${ortdir}
PC

cat > "$L/cmake/inferkit/inferkitConfig.cmake" <<'CMAKE'
# inferkit's CMake package: find_package(inferkit 0.1 REQUIRED), then link
#   inferkit::inferkit         the shared library (libinferkit.so.0)
#   inferkit::inferkit_static  the static library, with the system libraries it needs
# ONNX Runtime is found at run time in <prefix>/lib/inferkit/ (beside the shared library; through
# an rpath for the static one).
get_filename_component(_inferkit_prefix "${CMAKE_CURRENT_LIST_DIR}/@TO_PREFIX@" ABSOLUTE)
set(_inferkit_libdir "${_inferkit_prefix}/@LIBDIR@")
set(_inferkit_includedir "${_inferkit_prefix}/@INCLUDEDIR@")
include(CMakeFindDependencyMacro)
find_dependency(Threads)
if(NOT TARGET inferkit::inferkit)
  add_library(inferkit::inferkit SHARED IMPORTED)
  set_target_properties(inferkit::inferkit PROPERTIES
    IMPORTED_LOCATION "${_inferkit_libdir}/libinferkit.so.@VERSION@"
    IMPORTED_SONAME "libinferkit.so.@MAJOR@"
    INTERFACE_INCLUDE_DIRECTORIES "${_inferkit_includedir}")
endif()
if(NOT TARGET inferkit::inferkit_static)
  add_library(inferkit::inferkit_static STATIC IMPORTED)
  set_target_properties(inferkit::inferkit_static PROPERTIES
    IMPORTED_LOCATION "${_inferkit_libdir}/libinferkit.a"
    INTERFACE_INCLUDE_DIRECTORIES "${_inferkit_includedir}"
    INTERFACE_COMPILE_DEFINITIONS "INFERKIT_STATIC"
    INTERFACE_LINK_LIBRARIES "Threads::Threads;${CMAKE_DL_LIBS};m"
    INTERFACE_LINK_OPTIONS "LINKER:-rpath,${_inferkit_libdir}/inferkit")
endif()
set(inferkit_INCLUDE_DIR "${_inferkit_includedir}")
unset(_inferkit_prefix)
unset(_inferkit_libdir)
unset(_inferkit_includedir)
# The package has no components: asking for one is an error, not a silent success.
foreach(_inferkit_component IN LISTS inferkit_FIND_COMPONENTS)
  if(inferkit_FIND_REQUIRED_${_inferkit_component})
    set(inferkit_FOUND FALSE)
    set(inferkit_NOT_FOUND_MESSAGE "inferkit has no component `${_inferkit_component}`")
  endif()
endforeach()
CMAKE
sed -i "s|@VERSION@|$version|; s|@MAJOR@|$major|; s|@TO_PREFIX@|$cmake_to_prefix|; s|@LIBDIR@|$libdir_rel|; s|@INCLUDEDIR@|$includedir_rel|" "$L/cmake/inferkit/inferkitConfig.cmake"

# The version file CMake itself writes (SameMinorVersion: before 1.0 a minor release may break),
# with version ranges; by hand where cmake is missing.
version_file=$L/cmake/inferkit/inferkitConfigVersion.cmake
if command -v cmake >/dev/null; then
  cat > "$L/cmake/inferkit/write-version.cmake" <<'CMAKE'
include(CMakePackageConfigHelpers)
write_basic_package_version_file("${OUT}" VERSION "${VERSION}" COMPATIBILITY SameMinorVersion)
CMAKE
  cmake -DOUT="$version_file" -DVERSION="$version" -P "$L/cmake/inferkit/write-version.cmake"
  rm -f "$L/cmake/inferkit/write-version.cmake"
else
  cat > "$version_file" <<CMAKE
set(PACKAGE_VERSION "$version")
if(PACKAGE_FIND_VERSION VERSION_GREATER PACKAGE_VERSION
   OR NOT PACKAGE_FIND_VERSION_MAJOR STREQUAL "$major"
   OR NOT PACKAGE_FIND_VERSION_MINOR STREQUAL "$minor")
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
else()
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
  if(PACKAGE_FIND_VERSION STREQUAL PACKAGE_VERSION)
    set(PACKAGE_VERSION_EXACT TRUE)
  endif()
endif()
CMAKE
fi

{
  for f in libinferkit.so "libinferkit.so.$major" "libinferkit.so.$version" libinferkit.a \
           pkgconfig/inferkit.pc pkgconfig/inferkit-static.pc \
           cmake/inferkit/inferkitConfig.cmake cmake/inferkit/inferkitConfigVersion.cmake \
           "inferkit/$ort" inferkit/libonnxruntime.so.1; do
    echo "$libdir/$f"
  done
  echo "$includedir/inferkit.h"
  echo "$includedir/inferkit.hpp"
} > "$manifest"
echo "install.sh: inferkit $version installed in $dest$prefix" >&2
