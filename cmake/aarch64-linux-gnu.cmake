# Cross-compiling for arm64 (Raspberry Pi 4/5 and other site gateways) on a Debian amd64 host:
# Debian's cross toolchain (g++-aarch64-linux-gnu) and the arm64 -dev packages installed side by
# side (multiarch, `dpkg --add-architecture arm64`). scripts/build_arm64 sets it up.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# Headers are shared between architectures in /usr/include; libraries, CMake packages and
# pkg-config files are the arm64 ones (and the extras scripts/build_arm64 unpacks).
set(BMSLINK_ARM64_EXTRA "" CACHE PATH "Unpacked arm64 -dev files that cannot be installed beside amd64's")
set(CMAKE_FIND_ROOT_PATH / ${BMSLINK_ARM64_EXTRA})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
# pkg-config must read the arm64 .pc files: scripts/build_arm64 sets PKG_CONFIG_LIBDIR.
