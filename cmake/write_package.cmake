# Writes safeweights' CMake package (safeweightsConfig.cmake and its version
# file) with CMake's own helpers; meson.build runs it as
#   cmake -DINPUT=... -DOUTPUT_DIR=... -DVERSION=... -DPREFIX=... -DPACKAGE_DIR=...
#         -DINCLUDE_DIR=... -DLIB_DIR=... -DCMAKE_SIZEOF_VOID_P=... -P write_package.cmake
# (PACKAGE_DIR, INCLUDE_DIR and LIB_DIR relative to PREFIX, or absolute). meson's cmake
# module does the same, but its files carry no install tag, so
# `meson install --tags devel` left them out.
include(CMakePackageConfigHelpers)
set(SAFEWEIGHTS_INCLUDEDIR "${INCLUDE_DIR}")
set(SAFEWEIGHTS_LIBDIR "${LIB_DIR}")
configure_package_config_file("${INPUT}" "${OUTPUT_DIR}/safeweightsConfig.cmake"
  INSTALL_DESTINATION "${PACKAGE_DIR}"
  INSTALL_PREFIX "${PREFIX}"
  PATH_VARS SAFEWEIGHTS_INCLUDEDIR SAFEWEIGHTS_LIBDIR
  NO_CHECK_REQUIRED_COMPONENTS_MACRO)
# CMAKE_SIZEOF_VOID_P, the build's: a 32-bit consumer does not take a 64-bit
# install (its simdjson would not link).
write_basic_package_version_file("${OUTPUT_DIR}/safeweightsConfigVersion.cmake"
  VERSION "${VERSION}"
  COMPATIBILITY SameMinorVersion)
